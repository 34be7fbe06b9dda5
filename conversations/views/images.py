"""Uploaded images: upload (one per request), take back an unsent one, and serve them to their owner."""

from __future__ import annotations

import uuid

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from conversations import images
from conversations.models import Image
from conversations.views.http import Refused, json_view


@json_view("POST")
def upload_image(request: HttpRequest) -> JsonResponse:
    """One image per request; the chat frame then refers to it by id (bodies over the limit
    never get here: chatsite/body_limits.py)."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError:
        raise Refused("The upload is damaged (not a well-formed multipart form).") from None
    if upload is None:
        raise Refused("Attach an image file.")
    try:
        image = images.store_upload(owner_id=request.user.pk, upload=upload)
    except images.ImageRejected as exc:
        raise Refused(exc.message) from None
    except images.QuotaFull as exc:  # room comes back when uploads are sent or removed
        raise Refused(exc.message, status=429, code="quota") from None
    return JsonResponse(images.image_data(image), status=201)


@json_view("POST")
def remove_image(request: HttpRequest, image_id: uuid.UUID) -> HttpResponse:
    """Take back an upload that was not sent (the composer's Remove): its row and files go."""
    get_object_or_404(Image, pk=image_id, owner=request.user, message__isnull=True).delete()
    return HttpResponse(status=204)


def image_file_response(field: FieldFile, content_type: str) -> FileResponse:
    response = FileResponse(field.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _own_image(request: HttpRequest, image_id: uuid.UUID) -> Image:
    # Only to its owner, staff included; the admin serves images through its own route.
    return get_object_or_404(Image, pk=image_id, owner=request.user)


@require_GET
def image(request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
    found = _own_image(request, image_id)
    return image_file_response(found.file, found.content_type)


@require_GET
def image_thumbnail(request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
    return image_file_response(_own_image(request, image_id).thumbnail, "image/webp")
