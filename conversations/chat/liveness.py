"""Which replies this process writes, their checkpoints, and the sweep for what dead workers left behind.

A reply's writer is the task streaming it (generation.Generation). While it
runs, the process saves its partial text at least every few checkpoint
intervals; a reply marked "streaming" that has not been saved for much longer
lost its writer (a worker was killed) and is marked interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from datetime import timedelta
from typing import Protocol

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.utils import timezone

from conversations.chat import events, replies
from conversations.models import Message
from conversations.transfer import imports

logger = logging.getLogger(__name__)

PROCESS_STARTED = timezone.now()
# A live reply is saved at least every HEARTBEAT_INTERVALS checkpoint intervals;
# one not saved for STALE_INTERVALS has lost its writer (a worker died).
HEARTBEAT_INTERVALS = 5
STALE_INTERVALS = 15
# How often the sweeper looks for imports a dead worker left staged (imports.ABANDONED_AFTER).
ABANDONED_IMPORTS_SECONDS = 600


class Writer(Protocol):
    reply_id: uuid.UUID
    reading_done: bool
    task: asyncio.Task[None] | None

    def checkpoint_text(self, now: float) -> tuple[str, str] | None: ...

    def interrupt(self) -> None: ...


# Replies started by this process and still running, by conversation id (None
# while the database decides whether the reply may start).
running: dict[uuid.UUID, Writer | None] = {}


def is_alive(message: Message) -> bool:
    """Whether a reply marked "streaming" still has a writer.

    A live writer saves the reply at least every few checkpoint intervals, so
    a reply that stopped moving lost its writer. With the in-memory channel
    layer there is only this process, so a reply it is not running and that
    was last saved before the process started is certainly dead. (Saved, not
    created: a reply from before a restart may be continued now.)
    """
    writer = running.get(message.conversation_id)
    if writer is not None and writer.reply_id == message.pk:
        return True
    if isinstance(get_channel_layer(), InMemoryChannelLayer) and message.saved_at < PROCESS_STARTED:
        return False
    stale_after = timedelta(seconds=settings.REPLY_CHECKPOINT_SECONDS * STALE_INTERVALS)
    return message.saved_at > timezone.now() - stale_after


async def interrupt_dead(conversation_id: uuid.UUID | None = None) -> None:
    """Mark replies whose writer died as interrupted, and tell the tabs watching them."""
    dead = await database_sync_to_async(replies.interrupt_dead_replies)(
        conversation_id=conversation_id, is_alive=is_alive
    )
    await events.announce_interrupted(dead)


_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def ensure_sweeper() -> None:
    """Start this process's sweeper, which finds replies and imports left behind by a dead worker."""
    loop = asyncio.get_running_loop()
    if loop not in _sweepers:
        _sweepers[loop] = loop.create_task(_sweep_forever(), name="reply-sweeper")


async def _sweep_forever() -> None:
    imports_due = 0.0  # at start-up: a worker that died mid-import is usually restarted
    while True:
        await asyncio.sleep(settings.REPLY_CHECKPOINT_SECONDS * HEARTBEAT_INTERVALS)
        try:
            await interrupt_dead()
        except Exception:
            logger.exception("Sweeping dead replies failed")
        if time.monotonic() >= imports_due:
            imports_due = time.monotonic() + ABANDONED_IMPORTS_SECONDS
            try:
                # Rare (a worker died mid-import), and a batch per transaction, so
                # other workers writing meanwhile wait for one batch, never the whole.
                await database_sync_to_async(imports.remove_abandoned_imports)()
            except Exception:
                logger.exception("Removing abandoned imports failed")


_checkpointers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
    weakref.WeakKeyDictionary()
)


def ensure_checkpointer() -> None:
    loop = asyncio.get_running_loop()
    task = _checkpointers.get(loop)
    if task is None or task.done():
        _checkpointers[loop] = loop.create_task(_checkpoint_while_replying(), name="reply-checkpoints")


async def _checkpoint_while_replying() -> None:
    """Save the partial text of every reply this process runs, in one statement a second.

    One write for all replies, rather than one per reply: with many replies at
    once, per-reply writes queue on the single database thread and delay the
    start of new replies.
    """
    while running:
        await asyncio.sleep(settings.REPLY_CHECKPOINT_SECONDS)
        now = time.monotonic()
        texts = {}
        for writer in list(running.values()):
            if writer is not None and not writer.reading_done:
                text = writer.checkpoint_text(now)
                if text is not None:
                    texts[writer.reply_id] = text
        if not texts:
            continue
        try:
            await database_sync_to_async(replies.checkpoint_replies)(texts=texts)
        except Exception:  # the final save still comes; the next checkpoint may succeed
            logger.exception("Saving the partial text of %d replies failed", len(texts))
