"""How the admin shows images and structured results."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from conversations.models import Message
from conversations.structured.form import result_form
from conversations.structured.formats import stored_result


def thumbnails(images) -> str:
    # The admin's own image route: the user-facing one serves an image to its owner only.
    return format_html_join(
        " ",
        '<a href="{}"><img src="{}" alt="Image {}×{}" height="64"></a>',
        (
            (
                reverse("admin:conversations_image_file", args=[image.pk]),
                reverse("admin:conversations_image_thumbnail", args=[image.pk]),
                image.width,
                image.height,
            )
            for image in images
        ),
    )


def structured_result(message: Message) -> str:
    result = stored_result(message.structured)
    if not result:
        return "—"
    errors = format_html_join(
        "", "<li><code>{}</code>: {}</li>", ((error["path"], error["message"]) for error in result["errors"])
    )
    verdict = "Valid" if result["valid"] else "Not valid"
    return format_html(
        "<p><strong>{}</strong></p><ul>{}</ul>{}",
        verdict,
        errors,
        result_form(message.format, message.structured, id_prefix=f"sf-{message.pk}"),
    )
