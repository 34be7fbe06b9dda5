"""How large a request body may be, by path: one rule for the server and for Django.

chatsite/serve.py applies it before daphne reads a body (the limit that holds);
BodyLimitMiddleware applies it again in Django, for a request that reached it
another way, so no view parses a body over its limit.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from conversations.views.http import error_response

# Room for the multipart framing and the CSRF field around an uploaded file.
FORM_OVERHEAD = 64 * 1024
MEGABYTE = 1024 * 1024


def body_limit(path: str) -> tuple[int, str]:
    """The largest body a request to `path` may have, and what to tell a client that sends more."""
    if path == "/images/":
        limit = settings.MAX_IMAGE_BYTES
        return limit + FORM_OVERHEAD, f"Images may be at most {limit / MEGABYTE:.1f} MB."
    if path == "/c/import/":
        limit = settings.MAX_IMPORT_BYTES
        return limit + FORM_OVERHEAD, f"An import may be at most {limit / MEGABYTE:.1f} MB."
    if path.startswith("/v1/"):
        # A script's call carries its images inline, as base64 (4 bytes for every 3).
        limit = (
            settings.MAX_REQUEST_BYTES + settings.MAX_IMAGES_PER_MESSAGE * settings.MAX_IMAGE_BYTES * 4 // 3
        )
    elif path.startswith("/admin/"):
        # Staff may correct the text of a long reply; still bounded.
        limit = max(settings.MAX_REQUEST_BYTES, 16 * MEGABYTE)
    else:
        limit = settings.MAX_REQUEST_BYTES
    return limit, f"The request is too large (the limit is {limit / MEGABYTE:.1f} MB)."


class BodyLimitMiddleware:
    """A body declared over its path's limit is refused (413) before any view parses it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response("invalid", "The request's Content-Length is not a number.", 400)
        limit, message = body_limit(request.path)
        if declared > limit:
            return error_response("too_large", message, 413)
        return self.get_response(request)
