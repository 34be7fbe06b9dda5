"""What a reply costs: frames coalesced, and a bounded number of database writes."""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager

import pytest
from channels.db import database_sync_to_async
from django.db.backends.utils import CursorWrapper

from tests.helpers import open_socket, receive_until, send, text_of

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def database_writes(monkeypatch):
    """Record every write statement, on any connection (each async context has its own)."""
    statements: list[str] = []
    execute = CursorWrapper._execute

    def recording_execute(self, sql, params, *ignored_wrappers):
        if sql.lstrip().upper().startswith(WRITES):
            statements.append(sql)
        return execute(self, sql, params, *ignored_wrappers)

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "_execute", recording_execute)
        yield statements


@pytest.mark.parametrize("interval", [None, 0.1])
async def test_a_fast_stream_is_coalesced_into_few_frames(ollama, settings, alice, conversation, interval):
    if interval is not None:
        settings.REPLY_FRAME_SECONDS = interval
    interval = settings.REPLY_FRAME_SECONDS  # None: the default, about 30 frames a second
    tokens = [f"{i} " for i in range(300)]
    ollama.enqueue_chat(*tokens, delay=0.002)
    socket = await open_socket(alice, conversation.pk)
    started = time.monotonic()
    await send(socket, type="chat", content="count")

    frames = await receive_until(socket, "done")
    elapsed = time.monotonic() - started

    token_frames = [frame for frame in frames if frame["type"] == "token"]
    assert text_of(frames) == "".join(tokens)
    # 300 upstream chunks, published at most once per interval (plus the first and the last).
    assert len(token_frames) <= elapsed / interval + 2
    assert len(token_frames) < len(tokens) / 4
    assert [frame["seq"] for frame in token_frames] == list(range(1, len(token_frames) + 1))
    await socket.disconnect()


async def test_a_reply_costs_a_bounded_number_of_writes_whatever_its_length(
    ollama, settings, monkeypatch, alice, conversation
):
    settings.REPLY_CHECKPOINT_SECONDS = 0.2
    tokens = [f"{i} " for i in range(200)]
    ollama.enqueue_chat(*tokens, delay=0.005)  # about a second of streaming
    socket = await open_socket(alice, conversation.pk)

    with database_writes(monkeypatch) as writes:
        started = time.monotonic()
        await send(socket, type="chat", content="count")
        await receive_until(socket, "done")
        elapsed = time.monotonic() - started

    checkpoints = [
        sql for sql in writes if sql.startswith('UPDATE "conversations_message"') and "CASE" in sql
    ]
    assert 1 <= len(checkpoints) <= elapsed / 0.2 + 1
    # Start: one insert (question and reply) and a conversation update; end: two
    # updates; plus the checkpoints. Never one per token.
    assert len(writes) == 4 + len(checkpoints)
    assert len(writes) < len(tokens) / 10
    await socket.disconnect()


async def test_the_partial_text_is_checkpointed_while_it_streams(ollama, settings, alice, conversation):
    from conversations.models import Message
    from tests.helpers import wait_for

    settings.REPLY_CHECKPOINT_SECONDS = 0.1
    ollama.enqueue_chat(*[f"t{i} " for i in range(30)], delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go")
    await receive_until(socket, "token")

    await wait_for(
        lambda: Message.objects.filter(
            role="assistant", status="streaming", content__startswith="t0 "
        ).exists()
    )
    await receive_until(socket, "done")
    await socket.disconnect()


async def test_frames_do_not_wait_for_the_database_thread(ollama, alice, conversation):
    """Work on the single database thread (saving other replies, say) must not hold up a tab's frames."""
    ollama.enqueue_chat(*[f"t{i} " for i in range(40)], delay=0.05)
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="go")
    await receive_until(socket, "token")

    busy = asyncio.create_task(database_sync_to_async(time.sleep)(1.0))
    await asyncio.sleep(0.05)
    arrived = []
    while not busy.done():
        frame = await socket.receive_json_from(timeout=2)
        if frame["type"] == "token" and not busy.done():
            arrived.append(frame["seq"])
    assert len(arrived) >= 3, "token frames waited for the database thread"
    await busy
    await receive_until(socket, "done")
    await socket.disconnect()
