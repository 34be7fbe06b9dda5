"""Taking a conversation out (Markdown, JSON, zip) and bringing an export back in."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from conversations.transfer import exports, imports
from conversations.views.conversations import own_conversation
from conversations.views.http import Refused, json_view

MEGABYTE = 2**20


@require_GET
def export(request: HttpRequest, conversation_id: uuid.UUID, kind: str) -> HttpResponse:
    conversation = own_conversation(request, conversation_id)
    name = slugify(conversation.title)[:60] or "conversation"
    if kind == "md":
        body, content_type = exports.export_markdown(conversation).encode(), "text/markdown; charset=utf-8"
    elif kind == "json":
        body, content_type = exports.export_json(conversation), "application/json"
    elif kind == "zip":
        body, content_type = exports.export_zip(conversation), "application/zip"
    else:
        raise Http404("Exports are .md, .json or .zip.")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


@json_view("POST")
def import_conversation(request: HttpRequest) -> JsonResponse:
    """A JSON or zip export, recreated for this user, all or nothing (transfer/imports.py);
    bodies over the limit never get here (chatsite/body_limits.py)."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError:
        raise Refused("The upload is damaged (not a well-formed multipart form).") from None
    if upload is None:
        raise Refused("Choose an exported .json or .zip file.")
    limit = settings.MAX_IMPORT_BYTES
    if upload.size is not None and upload.size > limit:
        raise Refused(
            f"The file is {upload.size / MEGABYTE:.1f} MB; an import may be at most {limit / MEGABYTE:.1f} MB."
        )
    try:
        conversation_id = imports.import_upload(owner_id=request.user.pk, upload=upload)
    except imports.ImportRejected as exc:
        raise Refused(exc.message) from None
    return JsonResponse(
        {"id": str(conversation_id), "url": reverse("conversation", args=[conversation_id])}, status=201
    )
