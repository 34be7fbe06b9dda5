"""Image uploads: checked by decoding, turned upright, kept within a quota of unsent ones, encoded for Ollama."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import warnings
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
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
# An upload not sent within a day was forgotten in a composer.
UNSENT_LIFETIME = timedelta(days=1)
# Rows deleted per transaction by a sweep, so that it never holds locks for long.
SWEEP_BATCH = 200


class ImageRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QuotaFull(Exception):
    """One more upload would pass the owner's cap on uploads not sent yet."""

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
        # Pillow warns about each damaged EXIF entry and skips it: nothing the user or
        # the operator can act on. Past MAX_IMAGE_PIXELS it only warns too; that is a refusal.
        warnings.simplefilter("ignore", UserWarning)
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


def turn_upright(image: Pillow.Image) -> bool:
    """Turn the pixels the way the EXIF orientation says, in place; whether they moved.

    Ollama ignores EXIF, so what it gets must be upright already. A damaged EXIF
    block makes Pillow raise assorted errors (struct, syntax, type); the tag is then
    ignored. Whether the pixels moved is read from the pixels themselves, so the
    answer holds even when Pillow fails after turning them.
    """
    from PIL import ImageOps

    pixels = image.im
    # Hostile EXIF fails in many ways; whatever Pillow managed before failing stands.
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", UserWarning)  # damaged entries, as in decode()
        ImageOps.exif_transpose(image, in_place=True)
    return image.im is not pixels


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
    """An upload from the composer: checked by decoding it, then its files and row saved.

    It waits in the composer until sent: the owner's stale unsent uploads are
    cleared first, and it must fit the owner's quota of unsent uploads
    (QuotaFull otherwise). The quota is checked again, with the owner locked, in
    the transaction that saves the row, so two uploads at once cannot both slip
    past it. If saving the row fails, the files are removed, so nothing is left behind.
    """
    name = upload.name or ""
    if upload.size is not None and upload.size > settings.MAX_IMAGE_BYTES:
        raise ImageRejected(
            f"“{upload.name}” is {_megabytes(upload.size)}; images may be at most "
            f"{_megabytes(settings.MAX_IMAGE_BYTES)}."
        )
    remove_stale_unsent(now=timezone.now(), owner_id=owner_id)
    # Before decoding, which is the costly part; the check that counts comes below.
    check_unsent_room(owner_id=owner_id, name=name, byte_size=upload.size or 0)
    record = write_image(owner_id=owner_id, data=upload.read(settings.MAX_IMAGE_BYTES + 1), name=name)
    try:
        with transaction.atomic():
            _lock_owner(owner_id=owner_id)
            check_unsent_room(owner_id=owner_id, name=name, byte_size=record.byte_size)
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
    turned = turn_upright(image)
    too_large = max(image.size) > settings.IMAGE_MAX_SIDE
    send_bytes = (
        _encode(image, max_side=settings.IMAGE_MAX_SIDE, format="PNG")
        if (turned or too_large or not readable)
        else None
    )
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


def _lock_owner(*, owner_id: int) -> None:
    """Make the owner's uploads wait for each other until the transaction ends.

    On PostgreSQL the user's row is locked (FOR NO KEY UPDATE, so rows that merely
    refer to the user are not held up); SQLite's IMMEDIATE transactions already
    let one writer in at a time.
    """
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=owner_id).values_list("pk"))


def check_unsent_room(*, owner_id: int, name: str, byte_size: int) -> None:
    """Raise QuotaFull unless one more upload of `byte_size` fits the owner's caps."""
    totals = Image.objects.filter(owner_id=owner_id, message__isnull=True).aggregate(
        count=Count("pk"), bytes=Sum("byte_size")
    )
    count, used = totals["count"], totals["bytes"] or 0
    if count >= settings.MAX_UNSENT_IMAGES:
        raise QuotaFull(
            f"You already have {count} image{'' if count == 1 else 's'} attached but not sent, "
            "the most allowed. Sending or removing attached images makes room for more."
        )
    if used + byte_size > settings.MAX_UNSENT_IMAGE_BYTES:
        label = f"“{name}”" if name else "This image"
        raise QuotaFull(
            f"{label} ({_megabytes(byte_size)}) does not fit: images attached but not sent may take "
            f"{_megabytes(settings.MAX_UNSENT_IMAGE_BYTES)} in all, and yours take {_megabytes(used)}. "
            "Sending or removing attached images makes room for more."
        )


def remove_stale_unsent(*, now: datetime, owner_id: int | None = None) -> int:
    """Delete uploads never sent that are older than UNSENT_LIFETIME, rows and files; how many.

    Rows are locked and checked again as unsent, so an image that a message takes
    at this moment is either kept (sent) or gone before the message can take it.
    Rows another sweep holds are skipped.
    """
    stale = Image.objects.filter(message__isnull=True, created_at__lt=now - UNSENT_LIFETIME)
    if owner_id is not None:
        stale = stale.filter(owner_id=owner_id)
    removed = 0
    while True:
        with transaction.atomic():
            batch = list(
                stale.select_for_update(skip_locked=True)
                .order_by("created_at")
                .values_list("pk", flat=True)[:SWEEP_BATCH]
            )
            if not batch:
                return removed
            # One DELETE for the batch; the post_delete signal removes each image's files.
            Image.objects.filter(pk__in=batch).delete()
        removed += len(batch)


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
    ids = list(message_ids)
    if not ids:
        return grouped
    for image in Image.objects.filter(message_id__in=ids).order_by("created_at", "id"):
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
