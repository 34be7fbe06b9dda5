"""Uploads attached but not sent: a quota per user by count and bytes, and stale ones swept on a timer."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.db.models.signals import post_delete
from django.utils import timezone

from conversations import housekeeping, images
from conversations.chat.replies import ReplyRefused
from conversations.chat.starts import NewQuestion, start_new_replies
from conversations.models import Image, Message
from tests.helpers import files_under, image_bytes, removed_by, signed_in, upload_image, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The sweep is given its clock; nothing here depends on today's date.
NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def uploaded_ids(user, count: int) -> list[str]:
    ids = []
    for index in range(count):
        status, body = upload_image(user, image_bytes(color=f"#{index:06x}"))
        assert status == 201, body
        ids.append(body["id"])
    return ids


def test_uploads_past_the_count_cap_are_refused_saying_what_frees_room(alice, settings):
    settings.MAX_UNSENT_IMAGES = 2
    uploaded_ids(alice, 2)
    files_before = files_under(Path(settings.MEDIA_ROOT))

    status, body = upload_image(alice, image_bytes(color="blue"))

    assert status == 429
    assert body["error"]["message"] == (
        "You already have 2 images attached but not sent, the most allowed. "
        "Sending or removing attached images makes room for more."
    )
    assert Image.objects.count() == 2
    assert files_under(Path(settings.MEDIA_ROOT)) == files_before


def test_uploads_past_the_byte_cap_are_refused_saying_what_frees_room(alice, settings):
    first = image_bytes(size=(200, 200), color="red")
    second = image_bytes(size=(200, 200), color="green")
    settings.MAX_UNSENT_IMAGE_BYTES = len(first) + len(second) - 1
    assert upload_image(alice, first)[0] == 201

    status, body = upload_image(alice, second, "second.png")

    assert status == 429
    assert "“second.png”" in body["error"]["message"]
    assert "images attached but not sent may take" in body["error"]["message"]
    assert body["error"]["message"].endswith("Sending or removing attached images makes room for more.")
    assert Image.objects.count() == 1
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 2  # the first one's original and thumbnail


def test_one_users_full_quota_leaves_another_user_free(alice, bob, settings):
    settings.MAX_UNSENT_IMAGES = 1
    uploaded_ids(alice, 1)
    assert upload_image(alice, image_bytes(color="blue"))[0] == 429

    status, body = upload_image(bob, image_bytes(color="blue"))

    assert status == 201
    assert Image.objects.filter(owner=bob).count() == 1


def test_removing_or_sending_an_upload_frees_room(alice, conversation, settings):
    settings.MAX_UNSENT_IMAGES = 2
    first, second = uploaded_ids(alice, 2)
    assert upload_image(alice, image_bytes(color="blue"))[0] == 429

    assert removed_by(alice, first) == 204
    assert upload_image(alice, image_bytes(color="blue"))[0] == 201
    assert upload_image(alice, image_bytes(color="white"))[0] == 429

    message = Message.objects.create(conversation=conversation, role="user", content="look")
    Image.objects.filter(pk=second).update(message=message)
    assert upload_image(alice, image_bytes(color="white"))[0] == 201


def test_an_upload_first_clears_its_owners_stale_ones(alice, settings):
    settings.MAX_UNSENT_IMAGES = 1
    [stale] = uploaded_ids(alice, 1)
    Image.objects.filter(pk=stale).update(created_at=timezone.now() - timedelta(days=2))

    status, body = upload_image(alice, image_bytes(color="blue"))

    assert status == 201
    assert list(Image.objects.values_list("pk", flat=True)) == [Image.objects.get(pk=body["id"]).pk]


def test_two_uploads_at_once_cannot_both_slip_past_the_cap(alice, settings, monkeypatch):
    """Both uploads are held just after their check, inside the transaction, until the
    other arrives there too; with the owner locked the second never gets that far."""
    if connection.vendor == "sqlite":
        pytest.skip(
            "SQLite's IMMEDIATE transactions let one writer in at a time; its in-memory test "
            "database refuses a second writer at once instead of making it wait"
        )
    settings.MAX_UNSENT_IMAGES = 1
    check_unsent_room, both_checked = images.check_unsent_room, threading.Barrier(2)

    def check_then_wait_for_the_other(**kwargs: object) -> None:
        check_unsent_room(**kwargs)
        if connection.in_atomic_block:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_checked.wait(timeout=2)

    monkeypatch.setattr(images, "check_unsent_room", check_then_wait_for_the_other)
    statuses: list[int] = []

    def upload_in_a_thread(color: str) -> None:
        try:
            statuses.append(upload_image(alice, image_bytes(color=color))[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload_in_a_thread, args=(color,)) for color in ("red", "blue")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [201, 429]
    assert Image.objects.count() == 1


def aged(image_id: str, *, age: timedelta, message: Message | None = None) -> Image:
    """Date an upload back from NOW (after all uploads: an upload clears its owner's stale ones)."""
    Image.objects.filter(pk=image_id).update(created_at=NOW - age, message=message)
    return Image.objects.get(pk=image_id)


def test_the_sweep_removes_only_stale_unsent_uploads_of_every_user(alice, bob, conversation, settings):
    sent = Message.objects.create(conversation=conversation, role="user", content="look")
    alices = uploaded_ids(alice, 3)
    [bobs] = uploaded_ids(bob, 1)
    alices_stale = aged(alices[0], age=timedelta(days=1, minutes=1))
    bobs_stale = aged(bobs, age=timedelta(days=3))
    alices_fresh = aged(alices[1], age=timedelta(hours=23, minutes=59))
    alices_old_but_sent = aged(alices[2], age=timedelta(days=30), message=sent)
    gone = [
        Path(field.path) for image in (alices_stale, bobs_stale) for field in (image.file, image.thumbnail)
    ]

    removed = images.remove_stale_unsent(now=NOW)

    assert removed == 2
    assert set(Image.objects.values_list("pk", flat=True)) == {alices_fresh.pk, alices_old_but_sent.pk}
    assert not any(path.exists() for path in gone)
    assert len(files_under(Path(settings.MEDIA_ROOT))) == 4
    assert images.remove_stale_unsent(now=NOW) == 0


def test_the_sweep_works_through_many_stale_uploads_in_batches(alice, settings, monkeypatch):
    monkeypatch.setattr(images, "SWEEP_BATCH", 2)
    for image_id in uploaded_ids(alice, 5):
        aged(image_id, age=timedelta(days=2))

    assert images.remove_stale_unsent(now=NOW) == 5
    assert not Image.objects.exists() and files_under(Path(settings.MEDIA_ROOT)) == []


def housekeeping_tasks() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "housekeeping" and not task.done()]


async def stopped(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_first_request_starts_the_housekeeping_of_its_process(alice):
    from chatsite.asgi import application

    async def login_page() -> int:
        request = HttpCommunicator(application, "GET", "/login/", headers=[(b"host", b"testserver")])
        response = await request.get_response(timeout=5)
        await request.wait(timeout=5)  # Django closes the request body after the response
        return response["status"]

    assert housekeeping_tasks() == []
    assert await login_page() == 200

    [task] = housekeeping_tasks()
    assert await login_page() == 200
    assert housekeeping_tasks() == [task]  # one per process, not one per request
    await stopped([task])


async def test_the_housekeeping_sweeps_stale_uploads_when_its_interval_comes(alice, monkeypatch, settings):
    monkeypatch.setattr(housekeeping, "INTERVAL_SECONDS", 0)
    stale = await sync_to_async(upload_image)(alice, image_bytes())
    await Image.objects.filter(pk=stale[1]["id"]).aupdate(created_at=timezone.now() - timedelta(days=2))

    housekeeping.ensure_housekeeping()
    try:
        await wait_for(lambda: not Image.objects.exists())
    finally:
        await stopped(housekeeping_tasks())
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def test_an_import_is_not_held_to_the_quota_of_unsent_uploads(alice, conversation, settings):
    client = signed_in(alice)
    question = Message.objects.create(conversation=conversation, role="user", content="Two colours?")
    Image.objects.filter(pk__in=uploaded_ids(alice, 2)).update(message=question)
    exported = client.get(f"/c/{conversation.pk}/export.json").content
    settings.MAX_UNSENT_IMAGES = 1
    [waiting] = uploaded_ids(alice, 1)

    response = client.post("/c/import/", {"file": SimpleUploadedFile("chat.json", exported)})

    assert response.status_code == 201
    copy = Message.objects.get(conversation_id=response.json()["id"])
    assert copy.images.count() == 2
    assert list(Image.objects.filter(message__isnull=True).values_list("pk", flat=True)) == [
        Image.objects.get(pk=waiting).pk
    ]


def test_an_image_a_message_takes_while_the_sweep_removes_it_is_refused_not_sent_half_gone(
    alice, conversation
):
    """The sweep has deleted the stale upload but not committed when a message asks for it:
    the message must wait for the sweep, then find the image gone."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's IMMEDIATE transactions let one writer in at a time; the two cannot overlap")
    conversation.model = "llava:7b"
    conversation.save()
    [image_id] = uploaded_ids(alice, 1)
    image = aged(image_id, age=timedelta(days=2))
    deleted, commit = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def hold_the_sweep_before_its_commit(sender: type, instance: Image, **kwargs: object) -> None:
        if threading.current_thread() is sweeper:
            deleted.set()
            commit.wait(10)

    def in_a_thread(name: str, work: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            try:
                outcomes[name] = work()
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    sweeper = in_a_thread("sweep", lambda: images.remove_stale_unsent(now=NOW))
    sender = in_a_thread(
        "start",
        lambda: start_new_replies(
            [NewQuestion(conversation.pk, "Look", image_ids=(image.pk,))], is_alive=lambda message: True
        ),
    )
    post_delete.connect(hold_the_sweep_before_its_commit, sender=Image, weak=False)
    try:
        sweeper.start()
        assert deleted.wait(10)
        sender.start()
        wait_until_a_session_waits_for_a_lock()
        commit.set()
        sweeper.join(10)
        sender.join(10)
    finally:
        commit.set()
        post_delete.disconnect(hold_the_sweep_before_its_commit, sender=Image)

    [outcome] = outcomes["start"]
    assert outcomes["sweep"] == 1
    assert isinstance(outcome, ReplyRefused) and outcome.code == "invalid", outcome
    assert not Message.objects.exists() and not Image.objects.exists()


def wait_until_a_session_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(500):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the message never waited for the sweep")
