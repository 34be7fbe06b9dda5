"""Taking care of a conversation: its title, rename, pin and delete, and paging back through it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conversations.models import Conversation, Image, Message
from tests.helpers import open_socket, png, post_json, receive_until, send, signed_in, wait_for

# Rename, pin, delete ----------------------------------------------------------


@pytest.mark.django_db
def test_rename_pin_and_delete(alice, bob, conversation, settings):
    client = signed_in(alice)
    assert post_json(client, f"/c/{conversation.pk}/rename/", {"title": "  Trip   plans "}).status_code == 200
    assert post_json(client, f"/c/{conversation.pk}/pin/", {"pinned": True}).json()["pinned"] is True
    conversation.refresh_from_db()
    assert (conversation.title, conversation.title_source, conversation.pinned) == (
        "Trip plans",
        "user",
        True,
    )

    assert post_json(client, f"/c/{conversation.pk}/rename/", {"title": ""}).status_code == 400
    assert post_json(client, f"/c/{conversation.pk}/pin/", {"pinned": "yes"}).status_code == 400
    intruder = signed_in(bob)
    assert post_json(intruder, f"/c/{conversation.pk}/rename/", {"title": "Mine"}).status_code == 404
    assert intruder.post(f"/c/{conversation.pk}/delete/").status_code == 404

    message = Message.objects.create(conversation=conversation, role="user", content="look")
    from django.core.files.uploadedfile import SimpleUploadedFile

    image_id = client.post("/images/", {"file": SimpleUploadedFile("a.png", png())}).json()["id"]
    Image.objects.filter(pk=image_id).update(message=message)
    media = Path(settings.MEDIA_ROOT)
    assert any(media.rglob("*.png"))

    assert client.post(f"/c/{conversation.pk}/delete/").status_code == 204
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Image.objects.exists() and not [p for p in media.rglob("*") if p.is_file()]


@pytest.mark.django_db(transaction=True)
async def test_open_tabs_learn_of_a_rename_and_a_delete(alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    client = await sync_to_async(signed_in)(alice)
    await sync_to_async(post_json)(client, f"/c/{conversation.pk}/rename/", {"title": "New name"})
    assert await socket.receive_json_from(timeout=5) == {"type": "title", "title": "New name"}

    await sync_to_async(client.post)(f"/c/{conversation.pk}/delete/")
    assert await socket.receive_json_from(timeout=5) == {"type": "deleted"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}


@pytest.mark.django_db(transaction=True)
async def test_a_deleted_conversation_while_streaming_does_not_crash_the_reply(ollama, alice, conversation):
    ollama.enqueue_chat(*["x "] * 20, delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go")
    await receive_until(socket, "token")
    client = await sync_to_async(signed_in)(alice)
    assert (await sync_to_async(client.post)(f"/c/{conversation.pk}/delete/")).status_code == 204
    await wait_for(lambda: not Message.objects.exists())
    from conversations.chat import liveness

    await wait_for(lambda: conversation.pk not in liveness.running)


# Titles -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_title_is_generated_after_the_first_reply(ollama, settings, alice):
    settings.GENERATE_TITLES = True
    conversation = await Conversation.objects.acreate(owner=alice, model="llama3.2")
    ollama.enqueue_chat("Sure, here is a plan.")
    ollama.enqueue_completion('"Weekend Trip to Lisbon."')
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Help me plan a weekend in Lisbon with two kids")
    frames = await receive_until(socket, "done")
    assert frames[0]["title"] == "Help me plan a weekend in Lisbon with two kids"

    assert await socket.receive_json_from(timeout=5) == {"type": "title", "title": "Weekend Trip to Lisbon"}
    request = ollama.completion_requests()[-1].json
    assert request["stream"] is False and request["options"]["num_predict"] == 24
    assert "Help me plan a weekend in Lisbon" in request["messages"][0]["content"]
    await conversation.arefresh_from_db()
    assert (conversation.title, conversation.title_source) == ("Weekend Trip to Lisbon", "generated")
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_manual_rename_is_never_overwritten_and_a_failure_keeps_the_first_words(
    ollama, settings, alice
):
    settings.GENERATE_TITLES = True
    renamed = await Conversation.objects.acreate(
        owner=alice, model="llama3.2", title="Mine", title_source="user"
    )
    failing = await Conversation.objects.acreate(owner=alice, model="llama3.2")
    for conversation in (renamed, failing):
        ollama.enqueue_chat("ok")
        ollama.enqueue_completion(error="model runner has unexpectedly stopped")
        socket = await open_socket(alice, conversation.pk)
        await send(socket, type="chat", content="first words of the question")
        await receive_until(socket, "done")
        assert await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()

    await renamed.arefresh_from_db()
    await failing.arefresh_from_db()
    assert (renamed.title, renamed.title_source) == ("Mine", "user")
    assert (failing.title, failing.title_source) == ("first words of the question", "first_words")
    assert len(ollama.completion_requests()) == 1  # none was asked for the renamed one


# Paging ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_long_conversation_opens_with_its_latest_messages_and_pages_back(alice, conversation):
    start = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            role="user" if i % 2 == 0 else "assistant",
            content=f"m{i}",
            created_at=start + timedelta(seconds=i),
        )
        for i in range(2000)
    )
    client = signed_in(alice)

    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    assert [m["content"] for m in page["messages"]] == [f"m{i}" for i in range(1950, 2000)]
    assert page["has_more"] is True
    older = client.get(f"/c/{conversation.pk}/messages/", {"before": page["messages"][0]["id"]}).json()
    assert [m["content"] for m in older["messages"]] == [f"m{i}" for i in range(1900, 1950)]
    assert older["has_more"] is True
    assert client.get(f"/c/{conversation.pk}/messages/", {"before": "nope"}).status_code == 400


@pytest.mark.django_db
def test_messages_sharing_one_timestamp_all_load_when_scrolling_up(alice, conversation):
    moment = timezone.now() - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(conversation=conversation, role="user", content=f"m{i}", created_at=moment)
        for i in range(120)
    )
    in_order = [str(pk) for pk in Message.objects.order_by("created_at", "id").values_list("pk", flat=True)]
    client = signed_in(alice)

    page = client.get(f"/c/{conversation.pk}/").context["page_data"]
    shown = [m["id"] for m in page["messages"]]
    while True:
        older = client.get(f"/c/{conversation.pk}/messages/", {"before": shown[0]}).json()
        shown = [m["id"] for m in older["messages"]] + shown
        if not older["has_more"]:
            break

    assert shown == in_order


@pytest.mark.django_db(transaction=True)
async def test_a_reconnecting_tab_gets_the_messages_that_share_its_last_ones_timestamp(alice, conversation):
    moment = timezone.now() - timedelta(minutes=5)
    await Message.objects.abulk_create(
        Message(conversation=conversation, role="user", content=f"m{i}", created_at=moment) for i in range(6)
    )
    in_order = [
        str(pk) async for pk in Message.objects.order_by("created_at", "id").values_list("pk", flat=True)
    ]
    socket = await open_socket(alice, conversation.pk)

    await send(socket, type="sync", after=in_order[2])
    frame = await socket.receive_json_from(timeout=5)

    assert frame["type"] == "history" and frame["reset"] is False
    assert [m["id"] for m in frame["messages"]] == in_order[3:]
    await socket.disconnect()
