"""Images for vision models: uploaded over HTTP, checked by decoding, sent as base64."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from PIL import Image as Pillow

from conversations.models import Conversation, Image, Message
from tests.helpers import (
    error_message,
    files_under,
    image_bytes,
    open_socket,
    receive_until,
    removed_by,
    send,
    upload_image,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_uploaded_png_reaches_ollama_as_its_exact_base64_then_again_on_replay(
    ollama, alice, conversation, settings
):
    conversation.model = "llava:7b"
    await conversation.asave()
    data = image_bytes()
    status, uploaded = await sync_to_async(upload_image)(alice, data)
    assert status == 201
    assert (uploaded["width"], uploaded["height"], uploaded["content_type"]) == (40, 30, "image/png")
    socket = await open_socket(alice, conversation.pk)

    ollama.enqueue_chat("A red rectangle.")
    await send(socket, type="chat", content="What is this?", images=[uploaded["id"]])
    frames = await receive_until(socket, "done")
    ollama.enqueue_chat("Red.")
    await send(socket, type="chat", content="Which colour exactly?")
    await receive_until(socket, "done")

    expected = base64.b64encode(data).decode()
    first, follow_up = ollama.chat_requests()
    assert first.json["messages"] == [{"role": "user", "content": "What is this?", "images": [expected]}]
    assert follow_up.json["messages"][0]["images"] == [expected]
    assert "images" not in follow_up.json["messages"][-1]
    assert frames[0]["message"]["images"][0]["id"] == uploaded["id"]
    image = await Image.objects.aget(pk=uploaded["id"])
    assert image.message_id is not None and image.byte_size == len(data)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    await socket.disconnect()


async def test_a_model_that_cannot_see_gets_a_warning_naming_one_that_can(ollama, alice, conversation):
    status, uploaded = await sync_to_async(upload_image)(alice, image_bytes())
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="What is this?", images=[uploaded["id"]], model="llama3.2:latest")
    frame = await socket.receive_json_from(timeout=5)

    assert frame["type"] == "error" and frame["code"] == "model_cannot_see"
    assert frame["message"] == "llama3.2:latest cannot see images. Switch to a vision model such as llava:7b."
    assert ollama.chat_requests() == []
    assert not await Message.objects.aexists()
    assert (await Image.objects.aget(pk=uploaded["id"])).message_id is None
    await socket.disconnect()


async def test_an_ollama_error_about_images_is_shown(ollama, alice, conversation):
    ollama.models[0]["capabilities"].append("vision")  # it claims vision, the runner disagrees
    ollama.enqueue_error(500, "this model is missing data required for image input")
    status, uploaded = await sync_to_async(upload_image)(alice, image_bytes())
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="chat", content="What is this?", images=[uploaded["id"]])
    frames = await receive_until(socket, "done")

    assert frames[-1]["message"]["status"] == "error"
    assert "missing data required for image input" in frames[-1]["message"]["error"]
    await socket.disconnect()


def test_large_images_are_sent_downscaled_and_kept_whole(alice, settings):
    settings.IMAGE_MAX_SIDE = 100
    status, uploaded = upload_image(alice, image_bytes(size=(400, 50)))

    image = Image.objects.get(pk=uploaded["id"])
    assert (image.width, image.height) == (400, 50)
    from conversations.images import base64_for_ollama

    sent = Pillow.open(io.BytesIO(base64.b64decode(base64_for_ollama(image))))
    assert sent.size[0] == 100 and sent.size[1] in (12, 13)
    with Pillow.open(image.file.path) as original:
        assert original.size == (400, 50)


def test_gif_is_accepted_and_sent_as_png(alice):
    status, uploaded = upload_image(alice, image_bytes("GIF"), "anim.gif")
    assert status == 201 and uploaded["content_type"] == "image/gif"
    from conversations.images import base64_for_ollama

    sent = Pillow.open(io.BytesIO(base64.b64decode(base64_for_ollama(Image.objects.get()))))
    assert sent.format == "PNG"


def test_webp_and_jpeg_are_accepted(alice):
    assert upload_image(alice, image_bytes("WEBP"), "a.webp")[1]["content_type"] == "image/webp"
    assert upload_image(alice, image_bytes("JPEG"), "a.jpg")[1]["content_type"] == "image/jpeg"


def bomb() -> bytes:
    return image_bytes(size=(200, 200))


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"just some text, not an image", "notes.png", "is not an image"),
        (image_bytes()[:60], "cut.png", "is damaged or incomplete"),
        (image_bytes("BMP"), "old.bmp", "is a BMP image; attach a PNG, JPEG, WebP or GIF image."),
        (image_bytes("TIFF"), "scan.png", "is a TIFF image"),
        (b"", "empty.png", "is empty"),
        (bomb(), "bomb.png", "has too many pixels to decode safely"),
    ],
)
def test_bad_uploads_are_refused_with_their_reason_and_leave_nothing(alice, settings, data, name, message):
    settings.MAX_IMAGE_PIXELS = 10_000  # the "bomb" has 40,000
    status, body = upload_image(alice, data, name)

    assert status == 400
    assert message in body["error"]["message"]
    assert not Image.objects.exists()
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_an_image_over_the_size_limit_is_refused(alice, settings):
    settings.MAX_IMAGE_BYTES = 1000
    status, body = upload_image(alice, image_bytes(size=(300, 300), color="blue") + b"\0" * 2000, "big.png")

    assert status in (400, 413)
    assert "at most" in body["error"]["message"]
    assert not Image.objects.exists() and files_under(Path(settings.MEDIA_ROOT)) == []


def test_an_upload_without_a_file_is_refused(alice):
    client = Client()
    client.force_login(alice)
    response = client.post("/images/", {})
    assert response.status_code == 400 and error_message(response) == "Attach an image file."


def test_a_failure_while_saving_leaves_no_orphan_file(alice, settings, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image, "save", broken_save)
    with pytest.raises(OSError):
        upload_image(alice, image_bytes())
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_only_the_owner_can_fetch_an_image(alice, bob):
    status, uploaded = upload_image(alice, image_bytes())
    owner, other, anonymous = Client(), Client(), Client()
    owner.force_login(alice)
    other.force_login(bob)

    response = owner.get(uploaded["url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == image_bytes()
    thumbnail = owner.get(uploaded["thumbnail_url"])
    assert thumbnail["Content-Type"] == "image/webp"
    thumbnail.close()
    response.close()
    assert other.get(uploaded["url"]).status_code == 404
    assert other.get(uploaded["thumbnail_url"]).status_code == 404
    assert anonymous.get(uploaded["url"]).status_code == 302


async def test_another_users_image_cannot_be_sent(ollama, alice, bob, conversation):
    status, uploaded = await sync_to_async(upload_image)(alice, image_bytes())
    bobs = await Conversation.objects.acreate(owner=bob, model="llava:7b")
    socket = await open_socket(bob, bobs.pk)

    await send(socket, type="chat", content="steal", images=[uploaded["id"]])
    frame = await socket.receive_json_from(timeout=5)

    assert frame["code"] == "invalid" and "Attach it again" in frame["message"]
    assert not await Message.objects.aexists()
    await socket.disconnect()


async def test_too_many_images_are_refused_and_the_uploads_stay_ready_to_send(
    ollama, alice, conversation, settings
):
    settings.MAX_IMAGES_PER_MESSAGE = 2
    ids = [
        (await sync_to_async(upload_image)(alice, image_bytes(color=color)))[1]["id"]
        for color in ("red", "green", "blue")
    ]
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="three", model="llava:7b", images=ids)
    frame = await socket.receive_json_from(timeout=5)

    assert frame["code"] == "invalid" and "at most 2 images" in frame["message"]
    assert not await Message.objects.aexists()
    assert await Image.objects.filter(message__isnull=True).acount() == 3
    # With one taken back, the same message goes through.
    await sync_to_async(removed_by)(alice, ids[2])
    ollama.enqueue_chat("Two squares.")
    await send(socket, type="chat", content="three", model="llava:7b", images=ids[:2])
    done = (await receive_until(socket, "done"))[-1]["message"]
    assert done["content"] == "Two squares."
    assert len(ollama.chat_requests()[-1].json["messages"][0]["images"]) == 2
    await socket.disconnect()


def test_an_unsent_upload_can_be_taken_back_by_its_owner_only(alice, bob, conversation, settings):
    status, uploaded = upload_image(alice, image_bytes())
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 2

    assert removed_by(bob, uploaded["id"]) == 404
    assert removed_by(alice, uploaded["id"]) == 204
    assert not Image.objects.exists()
    assert files_under(Path(settings.MEDIA_ROOT)) == []
    assert removed_by(alice, uploaded["id"]) == 404


def test_a_sent_image_cannot_be_taken_back(alice, conversation):
    status, uploaded = upload_image(alice, image_bytes())
    message = Message.objects.create(conversation=conversation, role="user", content="look")
    Image.objects.filter(pk=uploaded["id"]).update(message=message)

    assert removed_by(alice, uploaded["id"]) == 404
    assert Image.objects.filter(pk=uploaded["id"]).exists()


def test_deleting_a_conversation_deletes_its_images(alice, conversation, settings):
    status, uploaded = upload_image(alice, image_bytes())
    message = Message.objects.create(conversation=conversation, role="user", content="look")
    Image.objects.filter(pk=uploaded["id"]).update(message=message)
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 2  # original and thumbnail

    conversation.delete()

    assert not Image.objects.exists()
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_the_admin_shows_thumbnails_through_its_own_route(alice, conversation):
    status, uploaded = upload_image(alice, image_bytes())
    message = Message.objects.create(conversation=conversation, role="user", content="look")
    Image.objects.filter(pk=uploaded["id"]).update(message=message)
    operator = staff("operator", superuser=True)

    admin_file = f"/admin/conversations/conversation/images/{uploaded['id']}/"
    for page in (
        f"/admin/conversations/conversation/{conversation.pk}/change/",
        f"/admin/conversations/message/{message.pk}/change/",
    ):
        content = operator.get(page).content.decode()
        assert f'<a href="{admin_file}"><img src="{admin_file}thumbnail/"' in content
        assert f'"{uploaded["url"]}"' not in content and f'"{uploaded["thumbnail_url"]}"' not in content
    thumbnail = operator.get(f"{admin_file}thumbnail/")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    thumbnail.close()


def staff(name: str, *, superuser: bool = False, permissions: tuple[str, ...] = ()) -> Client:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(name, is_staff=True, is_superuser=superuser)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    client = Client()
    client.force_login(user)
    return client


def test_an_operator_sees_other_users_images_in_the_admin_only(alice, bob):
    status, uploaded = upload_image(alice, image_bytes())
    operator = staff("operator", superuser=True)
    admin_file = f"/admin/conversations/conversation/images/{uploaded['id']}/"

    assert operator.get(uploaded["url"]).status_code == 404
    assert operator.get(uploaded["thumbnail_url"]).status_code == 404
    response = operator.get(admin_file)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == image_bytes()
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    response.close()
    viewer = staff("viewer", permissions=("view_image",))
    allowed = viewer.get(f"{admin_file}thumbnail/")
    assert allowed.status_code == 200
    allowed.close()

    assert staff("helper", permissions=("view_conversation",)).get(admin_file).status_code == 403
    user = Client()
    user.force_login(bob)
    refused = user.get(admin_file)
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")
    assert Client().get(admin_file).status_code == 302
    missing = "/admin/conversations/conversation/images/00000000-0000-0000-0000-000000000000/"
    assert operator.get(missing).status_code == 404
