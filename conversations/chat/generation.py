"""One reply = one task: stream from Ollama, coalesce, publish, save.

The task belongs to no socket. It publishes to the conversation's group, so any
number of tabs (on any worker, with Redis) watch it, and it goes on when they
all close. It listens for stop and sync requests on its own control channel.
chat/launch.py starts it; its events are built in chat/events.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from conversations.chat import events, liveness, replies, titles
from conversations.chat.liveness import running
from conversations.chat.timeline import MessageData
from conversations.chat.tool_rounds import ToolRounds
from conversations.models import Message
from conversations.ollama import catalog
from conversations.ollama.client import OllamaError, get_client
from conversations.tools.builtins import Caller
from conversations.tools.registry import ToolSpec

logger = logging.getLogger(__name__)

# When many replies stream in one process, frames (not tokens) are what cost CPU:
# the interval between a reply's frames grows so the process sends at most about
# this many frames a second in all, up to MAX_FRAME_SECONDS (a gap people still
# read as smooth).
FRAMES_PER_SECOND_PER_PROCESS = 2000
MAX_FRAME_SECONDS = 0.1
# A chunk that took longer than this to come came from a fresh read of the
# socket (Ollama sends one chunk per token); reading costs far more than the
# chunk itself, so the reader then rests until the next frame is due (see _read).
TRICKLE_SECONDS = 0.002


def frame_interval() -> float:
    return min(
        max(settings.REPLY_FRAME_SECONDS, len(running) / FRAMES_PER_SECOND_PER_PROCESS), MAX_FRAME_SECONDS
    )


class Generation:
    def __init__(
        self,
        *,
        conversation_id: uuid.UUID,
        reply: MessageData,
        payload: dict[str, Any],
        tools: list[ToolSpec] | None = None,
        caller: Caller | None = None,
        notes: list[str] | None = None,
        client_tools: bool = False,
        first_round: int = 0,
    ) -> None:
        self.conversation_id = conversation_id
        self.reply = reply
        self.reply_id = uuid.UUID(reply["id"])
        self.payload = payload
        self.group = events.conversation_group(conversation_id)
        self.layer = get_channel_layer()
        self.task: asyncio.Task[None] | None = None
        # Text already published, as parts, and text received but not yet published.
        # A continued reply starts with the text it already had.
        self.content: list[str] = [reply["content"]] if reply["content"] else []
        self.thinking: list[str] = [reply["thinking"]] if reply["thinking"] else []
        self.pending_content: list[str] = []
        self.pending_thinking: list[str] = []
        self.seq = 0
        self.stats: dict[str, Any] = {}
        self.stop_requested = False
        self.received = asyncio.Event()
        self._pause_over: asyncio.Future[None] | None = None  # the publisher's pause between frames
        self.reading_done = False
        self.next_frame_at = 0.0  # loop time at which the publisher may send the next frame
        self._stream_task: asyncio.Task[None] | None = None
        # What the last checkpoint saved, and when (time.monotonic()).
        self.saved_length = len(reply["content"]) + len(reply["thinking"])
        self.saved_at = time.monotonic()
        # Events the publisher sends after the text received before them (tool calls).
        self.pending_events: list[Any] = []
        # A reply with tools (or notes about them) has their rounds; a plain reply has none.
        self.rounds: ToolRounds | None = None
        # An API client's tools are the client's to run: their calls end the reply (see _read).
        self.client_tools = client_tools
        if tools or notes or client_tools:
            self.rounds = ToolRounds(
                message_id=reply["id"],
                tools=tools or [],
                caller=caller,
                notes=notes or [],
                queue=self._queue,
                first_round=first_round,
                earlier=reply["tool_calls"] if first_round else None,
            )

    # The reply's life -------------------------------------------------------

    async def run(self) -> None:
        control = await self.layer.new_channel()
        await self.layer.group_add(events.control_group(self.conversation_id), control)
        listener = asyncio.create_task(self._listen(control))
        publisher = asyncio.create_task(self._publish_loop())
        status, error = await self._stream()
        message: MessageData | None = None
        try:
            if self.rounds is not None:
                self.rounds.end_open_calls()
            self.reading_done = True
            self.received.set()
            self._end_pause()
            await asyncio.shield(publisher)
            await self._end_listener(listener, control)
            message = await database_sync_to_async(replies.finish_reply)(
                message_id=self.reply_id,
                content="".join(self.content + self.pending_content),
                thinking="".join(self.thinking + self.pending_thinking),
                status=status,
                error=error.message if error else "",
                stats=self.stats,
                calls=self.rounds.calls if self.rounds else None,
                notes=self.rounds.notes if self.rounds else None,
                earlier_calls=self.rounds is not None and self.rounds.first_round > 0,
            )
        except Exception:
            logger.exception("Saving reply %s failed", self.reply_id)
            status, error = Message.Status.ERROR, OllamaError("upstream", "The reply could not be saved.")
            message = await self._save_as_failed(error)
        finally:
            # Whatever happened, the conversation takes new questions from here on.
            if running.get(self.conversation_id) is self:
                del running[self.conversation_id]
            await self.layer.group_discard(events.control_group(self.conversation_id), control)
        await self._announce(message, status, error)

    async def _end_listener(self, listener: asyncio.Task[None], control: str) -> None:
        """The listener is told to stop rather than cancelled: cancelling a receive on
        channels-redis can drop a message it already took off Redis for another
        channel of this process (a socket's frame). If even telling it fails (the
        layer is full), cancelling is the lesser harm: the reply must be saved."""
        try:
            await self.layer.send(control, events.REPLY_FINISHED)
        except Exception:
            logger.warning("Could not tell the listener of reply %s to stop; cancelling it", self.reply_id)
            listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    def interrupt(self) -> None:
        """The process is stopping: end the reading now; run() saves the reply as interrupted."""
        if self._stream_task is not None:
            self._stream_task.cancel()

    async def _save_as_failed(self, error: OllamaError) -> MessageData | None:
        """The plainest save there is; if even that fails, the sweeper marks the reply
        interrupted once its checkpoints have stopped."""
        try:
            return await database_sync_to_async(replies.mark_failed)(
                message_id=self.reply_id,
                content="".join(self.content + self.pending_content),
                thinking="".join(self.thinking + self.pending_thinking),
                error=error.message,
            )
        except Exception:
            logger.exception("Marking reply %s as failed failed too", self.reply_id)
            return None

    async def _stream(self) -> tuple[str, OllamaError | None]:
        """Read the reply to its end; how that went decides the status it is saved with."""
        try:
            self._stream_task = asyncio.create_task(self._read())
            await self._stream_task
        except asyncio.CancelledError:
            if self.stop_requested and not _being_cancelled():
                return Message.Status.STOPPED, None
            # The process is stopping (see interrupt()): save what there is, then go.
            return Message.Status.INTERRUPTED, OllamaError("upstream", replies.INTERRUPTED)
        except OllamaError as exc:
            return Message.Status.ERROR, exc
        except Exception:  # never leave a reply "streaming" behind
            logger.exception("Reply %s failed", self.reply_id)
            return Message.Status.ERROR, OllamaError("upstream", replies.FAILED)
        return Message.Status.COMPLETE, None

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        payload = await catalog.without_images_unless_seeing(get_client(), self.payload)
        if self.rounds is not None:
            payload = await self.rounds.offer(payload)
        for number in range(settings.MAX_TOOL_ROUNDS + 1):
            asked: list[dict[str, Any]] = []
            waiting_since = loop.time()
            async for chunk in get_client().stream_chat(payload):
                if chunk.thinking:
                    self.pending_thinking.append(chunk.thinking)
                text = chunk.content
                if text and not self.content and not self.pending_content:
                    # Models often begin with " " or a newline: trimmed here, where the text is
                    # kept, so the page, the saved reply, exports and the replay all agree.
                    text = text.lstrip()
                if text:
                    self.pending_content.append(text)
                if chunk.done:
                    self.stats = chunk.stats
                if chunk.thinking or chunk.content:
                    self.received.set()
                if chunk.tool_calls:
                    asked += chunk.tool_calls
                now = loop.time()
                if now - waiting_since > TRICKLE_SECONDS and not chunk.done:
                    # Tokens trickle in, each in its own read of the socket: rest until
                    # the next frame is due, so one read then takes all that came meanwhile.
                    await asyncio.sleep(max(self.next_frame_at - now, 0.0))
                    now = loop.time()
                waiting_since = now
            if asked and self.client_tools and self.rounds is not None:
                await self.rounds.hand_over(asked, "".join(self.content + self.pending_content))
                return
            if not asked or self.rounds is None or not self.rounds.tools:
                return
            if number == settings.MAX_TOOL_ROUNDS:
                raise OllamaError(
                    "tool_rounds",
                    f"The model was still calling tools after {settings.MAX_TOOL_ROUNDS} rounds, "
                    "so the reply was ended there.",
                )
            content = "".join(self.content + self.pending_content)
            payload = await self.rounds.run_round(payload, self.rounds.first_round + number, asked, content)

    def _queue(self, event: Any) -> None:
        """An event the publisher sends after the text received so far, so tabs see them in order."""
        self.pending_events.append(event)
        self.received.set()
        self._end_pause()

    async def _announce(self, message: MessageData | None, status: str, error: OllamaError | None) -> None:
        if error is not None and status == Message.Status.ERROR:
            await self.layer.group_send(
                self.group,
                events.reply_error(code=error.kind, message=error.message, message_id=str(self.reply_id)),
            )
        if message is None:  # not saved, or the conversation was deleted meanwhile
            return
        await self.layer.group_send(self.group, events.reply_done(message))
        if status == Message.Status.COMPLETE and settings.GENERATE_TITLES:
            _background(titles.generate_title(self.conversation_id))

    # Frames: coalesced, at most one per kind every REPLY_FRAME_SECONDS ------

    async def _publish_loop(self) -> None:
        while True:
            await self.received.wait()
            self.received.clear()
            await self._flush()
            if self.reading_done:
                # Text may have arrived while the flush above was sending; the
                # reader has stopped now, so this flush is the last one.
                await self._flush()
                return
            # Wait out the frame interval, but not past the end of the reply.
            interval = frame_interval()
            self.next_frame_at = asyncio.get_running_loop().time() + interval
            await self._pause(interval)

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless the reading ends first (a timer and a future: cheaper than wait_for)."""
        loop = asyncio.get_running_loop()
        self._pause_over = over = loop.create_future()
        timer = loop.call_later(seconds, _resolve, over)
        try:
            await over
        finally:
            timer.cancel()
            self._pause_over = None

    def _end_pause(self) -> None:
        if self._pause_over is not None:
            _resolve(self._pause_over)

    async def _flush(self) -> None:
        for kind, pending, published in (
            ("thinking", self.pending_thinking, self.thinking),
            ("token", self.pending_content, self.content),
        ):
            if not pending:
                continue
            delta = "".join(pending)
            pending.clear()
            published.append(delta)
            self.seq += 1
            await self.layer.group_send(
                self.group,
                events.reply_delta(kind=kind, message_id=self.reply["id"], seq=self.seq, content=delta),
            )
        while self.pending_events:  # tool events, after the text that came before them
            await self.layer.group_send(self.group, self.pending_events.pop(0))

    # Saving the partial text, and the heartbeat that shows a writer is alive --

    def checkpoint_text(self, now: float) -> tuple[str, str] | None:
        """The text to save now, if it grew since the last save or a heartbeat is due."""
        length = sum(map(len, self.content)) + sum(map(len, self.thinking))
        heartbeat_due = (
            now - self.saved_at >= settings.REPLY_CHECKPOINT_SECONDS * liveness.HEARTBEAT_INTERVALS
        )
        if length == self.saved_length and not heartbeat_due:
            return None
        self.saved_length, self.saved_at = length, now
        return "".join(self.content), "".join(self.thinking)

    # Requests from sockets, possibly on other workers ---------------------

    async def _listen(self, control: str) -> None:
        while True:
            event = await self.layer.receive(control)
            match event.get("type"):
                case "reply.stop":
                    self.stop_requested = True
                    if self._stream_task is not None:
                        # Cancelling leaves the httpx stream, which closes the
                        # connection; that is what makes Ollama stop generating.
                        self._stream_task.cancel()
                case "reply.sync":
                    try:
                        await self.layer.send(event["reply_channel"], self._snapshot())
                    except Exception:  # a tab that asked and left; the reply goes on
                        logger.warning("Could not send a snapshot of reply %s", self.reply_id)
                case "reply.approval":
                    if self.rounds is not None:
                        self.rounds.decide(str(event.get("call_id")), allow=bool(event.get("allow")))
                case "reply.finished":
                    return

    def _snapshot(self) -> events.ReplySnapshot:
        message = {**self.reply, "content": "".join(self.content), "thinking": "".join(self.thinking)}
        if self.rounds is not None:
            message.update(self.rounds.shown())
        return events.reply_snapshot(message, seq=self.seq)


_background_tasks: set[asyncio.Task[None]] = set()


def _background(coroutine: Any) -> None:
    """Run a coroutine on its own, keeping a reference so it is not collected mid-way."""
    task = asyncio.create_task(coroutine)
    _background_tasks.add(task)
    task.add_done_callback(_background_tasks.discard)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
