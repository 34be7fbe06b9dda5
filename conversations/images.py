"""Uploaded images: checked by decoding them, stored, and encoded for Ollama."""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from conversations.models import Image

if TYPE_CHECKING:
    from PIL import Image as Pillow

# Pillow format name → (content type, whether Ollama reads it as it is).
FORMATS = {
    "PNG": ("image/png", True),
    "JPEG": ("image/jpeg", True),
    "WEBP": ("image/webp", True),
    "GIF": ("image/gif", False),
}
THUMBNAIL_SIDE = 320


class ImageRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def decode(data: bytes, name: str = "") -> Pillow.Image:
    """Open and fully decode image bytes, or say precisely why not."""
    # Imported here: Pillow and its codecs take memory that only uploads need.
    from PIL import Image as Pillow
    from PIL import UnidentifiedImageError

    label = f"“{name}”" if name else "The file"
    if len(data) > settings.MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"{label} is {_megabytes(len(data))}; images may be at most "
            f"{_megabytes(settings.MAX_IMAGE_BYTES)}."
        )
    if not data:
        raise ImageRejected(f"{label} is empty.")
    with warnings.catch_warnings():
        # Past MAX_IMAGE_PIXELS Pillow only warns; a warning here is a refusal.
        warnings.simplefilter("error", Pillow.DecompressionBombWarning)
        previous, Pillow.MAX_IMAGE_PIXELS = Pillow.MAX_IMAGE_PIXELS, settings.MAX_IMAGE_PIXELS
        try:
            image = Pillow.open(io.BytesIO(data))
            if image.format not in FORMATS:
                raise ImageRejected(
                    f"{label} is a {image.format} image; attach a PNG, JPEG, WebP or GIF image."
                )
            image.load()
        except (Pillow.DecompressionBombWarning, Pillow.DecompressionBombError):
            raise ImageRejected(
                f"{label} has too many pixels to decode safely "
                f"(the limit is {settings.MAX_IMAGE_PIXELS:,} pixels)."
            ) from None
        except UnidentifiedImageError:
            raise ImageRejected(f"{label} is not an image; attach a PNG, JPEG, WebP or GIF image.") from None
        except (OSError, SyntaxError, ValueError):
            raise ImageRejected(f"{label} is damaged or incomplete and cannot be read.") from None
        finally:
            Pillow.MAX_IMAGE_PIXELS = previous
    return image


def _encode(image: Pillow.Image, *, max_side: int, format: str) -> bytes:
    copy = image.copy()
    copy.thumbnail((max_side, max_side))
    if format == "JPEG" and copy.mode not in ("RGB", "L"):
        copy = copy.convert("RGB")
    elif copy.mode == "P":
        copy = copy.convert("RGBA")
    buffer = io.BytesIO()
    copy.save(buffer, format=format, **({"quality": 85} if format in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def store_upload(*, owner_id: int, upload: UploadedFile) -> Image:
    """Check an upload by decoding it, then save the files and the row together.

    If saving the row fails, the files are removed, so nothing is left behind.
    """
    if upload.size is not None and upload.size > settings.MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"“{upload.name}” is {_megabytes(upload.size)}; images may be at most "
            f"{_megabytes(settings.MAX_IMAGE_BYTES)}."
        )
    record = write_image(
        owner_id=owner_id, data=upload.read(settings.MAX_IMAGE_BYTES + 1), name=upload.name or ""
    )
    try:
        with transaction.atomic():
            record.save()
    except BaseException:
        delete_files(record)
        raise
    return record


def write_image(*, owner_id: int, data: bytes, name: str) -> Image:
    """Check image bytes by decoding them, then write the files; the row is the caller's to save.

    Everything is decoded and prepared in memory first; if writing fails half-way,
    the files already written are removed.
    """
    image = decode(data, name)
    content_type, readable = FORMATS[image.format]
    too_large = max(image.size) > settings.IMAGE_MAX_SIDE
    send_bytes = _encode(image, max_side=settings.IMAGE_MAX_SIDE, format="PNG") if (
        too_large or not readable
    ) else None  # fmt: skip
    thumbnail = _encode(image, max_side=THUMBNAIL_SIDE, format="WEBP")
    extension = image.format.lower().replace("jpeg", "jpg")

    record = Image(
        owner_id=owner_id,
        content_type=content_type,
        byte_size=len(data),
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    try:
        record.file.save(f"original.{extension}", ContentFile(data), save=False)
        if send_bytes is not None:
            record.send_file.save("send.png", ContentFile(send_bytes), save=False)
        record.thumbnail.save("thumbnail.webp", ContentFile(thumbnail), save=False)
    except BaseException:
        delete_files(record)
        raise
    return record


def forget_unsent(*, owner_id: int, older_than: timedelta = timedelta(days=1)) -> None:
    """Remove uploads that were attached in the composer but never sent."""
    stale = Image.objects.filter(
        owner_id=owner_id, message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    for image in stale:
        image.delete()


def delete_files(image: Image) -> None:
    for field in (image.file, image.send_file, image.thumbnail):
        if field:
            field.storage.delete(field.name)


def base64_for_ollama(image: Image) -> str:
    """Raw standard base64, no data: prefix, as Ollama's `images` wants it."""
    field = image.send_file or image.file
    with field.open("rb") as handle:
        return base64.b64encode(handle.read()).decode("ascii")


def images_by_message(message_ids: Iterable[Any]) -> dict[Any, list[Image]]:
    grouped: dict[Any, list[Image]] = defaultdict(list)
    for image in Image.objects.filter(message_id__in=list(message_ids)).order_by("created_at", "id"):
        grouped[image.message_id].append(image)
    return grouped


def image_data(image: Image) -> dict[str, Any]:
    return {
        "id": str(image.pk),
        "url": image.get_absolute_url(),
        "thumbnail_url": image.get_thumbnail_url(),
        "content_type": image.content_type,
        "byte_size": image.byte_size,
        "width": image.width,
        "height": image.height,
    }
