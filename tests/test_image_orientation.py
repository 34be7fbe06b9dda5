"""Photos carrying an EXIF orientation: shown and sent upright, the original kept as uploaded."""

from __future__ import annotations

import base64
import io
import struct
import warnings

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from PIL import ExifTags
from PIL import Image as Pillow

from conversations.models import Image
from tests.helpers import open_socket, receive_until, send, upload_image

pytestmark = pytest.mark.django_db(transaction=True)

ORIENTATION = ExifTags.Base.Orientation
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


def stored_pixels() -> Pillow.Image:
    """64×32 as stored: left half red with a green top-left corner, right half blue.

    Turned a quarter clockwise (EXIF orientation 6) it is 32×64: red on top with
    the green corner at the top right, blue below. A mirror or a turn the other
    way puts green or blue elsewhere.
    """
    image = Pillow.new("RGB", (64, 32), "blue")
    image.paste(COLOURS["red"], (0, 0, 32, 32))
    image.paste(COLOURS["green"], (0, 0, 16, 16))
    return image


def photo(exif: bytes | Pillow.Exif | None = None, format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    options = {"quality": 95} if format == "JPEG" else {}
    if exif is not None:
        options["exif"] = exif
    stored_pixels().save(buffer, format=format, **options)
    return buffer.getvalue()


def orientation(value: int) -> Pillow.Exif:
    exif = Pillow.Exif()
    exif[ORIENTATION] = value
    return exif


def colour_at(image: Pillow.Image, xy: tuple[int, int]) -> str:
    pixel = image.convert("RGB").getpixel(xy)
    return min(COLOURS, key=lambda name: sum((a - b) ** 2 for a, b in zip(pixel, COLOURS[name], strict=True)))


def assert_upright(image: Pillow.Image) -> None:
    assert image.size == (32, 64)
    assert [colour_at(image, xy) for xy in ((24, 8), (8, 8), (8, 24), (16, 48))] == [
        "green",
        "red",
        "red",
        "blue",
    ]
    assert ORIENTATION not in image.getexif()  # or a viewer would turn it a second time


def opened(data: bytes) -> Pillow.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow on a damaged EXIF block
        image = Pillow.open(io.BytesIO(data))
        image.load()
    return image


def fetched(user, url: str) -> bytes:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    response.close()
    return body


def test_a_photo_turned_by_its_exif_is_reported_and_shown_upright_and_kept_as_uploaded(alice):
    data = photo(orientation(6))

    status, uploaded = upload_image(alice, data, "photo.jpg")

    assert status == 201
    assert (uploaded["width"], uploaded["height"]) == (32, 64)
    image = Image.objects.get(pk=uploaded["id"])
    assert (image.width, image.height) == (32, 64)
    assert_upright(Pillow.open(io.BytesIO(fetched(alice, uploaded["thumbnail_url"]))))
    assert fetched(alice, uploaded["url"]) == data


async def test_ollama_gets_an_upright_copy_of_a_turned_photo(ollama, alice, conversation):
    conversation.model = "llava:7b"
    await conversation.asave()
    status, uploaded = await sync_to_async(upload_image)(alice, photo(orientation(6)), "photo.jpg")
    socket = await open_socket(alice, conversation.pk)

    ollama.enqueue_chat("A flag.")
    await send(socket, type="chat", content="What is this?", images=[uploaded["id"]])
    await receive_until(socket, "done")
    await socket.disconnect()

    [sent] = ollama.chat_requests()[0].json["messages"][0]["images"]
    assert_upright(Pillow.open(io.BytesIO(base64.b64decode(sent))))


@pytest.mark.parametrize("value", [1, 0, 9, 65535])
async def test_a_photo_without_a_turn_is_sent_as_uploaded(ollama, alice, conversation, value):
    conversation.model = "llava:7b"
    await conversation.asave()
    data = photo(orientation(value))
    status, uploaded = await sync_to_async(upload_image)(alice, data, "photo.jpg")
    socket = await open_socket(alice, conversation.pk)

    ollama.enqueue_chat("A flag.")
    await send(socket, type="chat", content="What is this?", images=[uploaded["id"]])
    await receive_until(socket, "done")
    await socket.disconnect()

    assert (uploaded["width"], uploaded["height"]) == (64, 32)
    assert ollama.chat_requests()[0].json["messages"][0]["images"] == [base64.b64encode(data).decode()]


def tiff(entries: list[tuple[int, int, int, bytes]], extra: bytes = b"") -> bytes:
    """An EXIF block written by hand: big-endian TIFF, one directory of (tag, type, count, value) entries."""
    header = b"MM\x00*" + struct.pack(">I", 8)
    directory = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        directory += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
    return b"Exif\x00\x00" + header + directory + struct.pack(">I", 0) + extra


SHORT_6 = (ORIENTATION, 3, 1, struct.pack(">H", 6))
# Image width (a number) holding text, pointing past the directory: Pillow reads the
# block but fails when it writes it back without the orientation.
WIDTH_AS_TEXT = (0x0100, 2, 6, struct.pack(">I", 8 + 2 + 2 * 12 + 4))


@pytest.mark.parametrize(
    "exif",
    [
        tiff([WIDTH_AS_TEXT, SHORT_6], extra=b"Maker\x00"),
        tiff([SHORT_6, (0x010F, 2, 400, struct.pack(">I", 4000))]),  # text far past the end
        tiff([SHORT_6])[:-9],  # cut in the middle of its directory
        b"Exif\x00\x00XX\x00*\x00\x00\x00\x08",  # not TIFF at all
        tiff([(ORIENTATION, 2, 2, b"6\x00")]),  # the orientation as text
        tiff([(ORIENTATION, 3, 2, struct.pack(">HH", 6, 8))]),  # two orientations
    ],
    ids=["unwritable", "past-the-end", "truncated", "not-tiff", "text", "two-values"],
)
@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP"])
def test_a_damaged_exif_block_never_breaks_an_upload_and_what_is_shown_agrees_with_what_is_sent(
    alice, exif, format
):
    data = photo(exif, format)

    status, uploaded = upload_image(alice, data, f"photo.{format.lower()}")

    assert status == 201, uploaded
    from conversations.images import base64_for_ollama

    image = Image.objects.get(pk=uploaded["id"])
    sent = opened(base64.b64decode(base64_for_ollama(image)))
    thumbnail = opened(fetched(alice, uploaded["thumbnail_url"]))
    reported = (uploaded["width"], uploaded["height"])
    assert reported in ((64, 32), (32, 64))
    assert sent.size == thumbnail.size == reported
    assert colour_at(sent, (4, 4)) == colour_at(thumbnail, (4, 4))
    assert colour_at(sent, (reported[0] - 4, 4)) == colour_at(thumbnail, (reported[0] - 4, 4))
    assert fetched(alice, uploaded["url"]) == data
