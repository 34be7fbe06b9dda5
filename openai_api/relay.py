"""An API call's reply: started the way the chat socket starts one (chat/launch.py), and followed
the way a tab follows it, as a member of the conversation's group (chat/events.py).

The reply belongs to the server, not to the call: a client that goes away
leaves it running and saved, and a tab open on the conversation shows it live.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conversations.chat import events, launch
from conversations.chat.replies import ReplyRefused
from conversations.chat.timeline import message_data
from conversations.models import Message, ToolCall
from openai_api.requests import Turn
from openai_api.shapes import ApiError

# Events can be dropped when a channel is full; the reply's row is read this often as well.
CHECK_SECONDS = 5.0
FINAL_CHECK = "api.final_check"


@dataclass
class Outcome:
    """A finished reply, as its row holds it."""

    reply_id: str
    model: str
    content: str
    status: str  # the reply's Message.Status
    error: str = ""
    error_code: str = ""
    done_reason: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # the client's calls it waits for


@dataclass
class Delta:
    text: str


@dataclass
class Following:
    """A reply being followed: its id, once started, and the channel its events come on."""

    conversation_id: uuid.UUID
    channel: str = ""
    reply_id: str = ""
    model: str = ""
    _checker: asyncio.Task[None] | None = field(default=None, repr=False)
    error_code: str = ""
    offset: int = 0  # the length of the reply's text before this call: a reply that goes on had some


def refusal(exc: ReplyRefused) -> ApiError:
    status = {"busy": 409, "deleted": 404}.get(exc.code, 400)
    return ApiError(status, exc.message, code=exc.code)


@contextlib.asynccontextmanager
async def following(conversation_id: uuid.UUID) -> AsyncIterator[Following]:
    """Join the conversation's group (before the reply starts, so no event is missed) for the block."""
    layer = get_channel_layer()
    follow = Following(conversation_id, channel=await layer.new_channel())
    group = events.conversation_group(conversation_id)
    await layer.group_add(group, follow.channel)
    try:
        yield follow
    finally:
        if follow._checker is not None:
            follow._checker.cancel()
        await layer.group_discard(group, follow.channel)


async def start(
    follow: Following,
    turn: Turn,
    *,
    image_ids: tuple[uuid.UUID, ...] = (),
    resumed_reply: uuid.UUID | None = None,
) -> None:
    """Start the reply to the turn's question as a tab's chat frame does (or let `resumed_reply`
    go on with the turn's tool results); the reply's id is set once it is announced."""
    # The reply task outlives this request. Django runs a request's database calls on a thread
    # that ends with it (asgiref's ThreadSensitiveContext, a context variable the task would
    # inherit), so the start runs in a context of its own, as a socket's starts do.
    starting = launch.start(
        conversation_id=follow.conversation_id,
        content=turn.question.text if turn.question else "",
        model=turn.model,
        client_id="api",
        image_ids=image_ids,
        format=turn.format,
        client_tools=turn.tools,
        **(
            {
                "mode": "results",
                "message_id": resumed_reply,
                "tool_results": {result.call_id: result.text for result in turn.results},
            }
            if resumed_reply is not None
            else {}
        ),
    )
    try:
        await asyncio.create_task(starting, context=contextvars.Context())
    except ReplyRefused as exc:
        raise refusal(exc) from None
    layer = get_channel_layer()
    while not follow.reply_id:  # start() has announced the question, then the reply
        event = await layer.receive(follow.channel)
        if event.get("type") == "reply.started":
            follow.reply_id = event["message"]["id"]
            follow.model = event["message"]["model"]
            follow.offset = len(event["message"]["content"])
    follow._checker = asyncio.create_task(_check_now_and_then(follow))


async def _check_now_and_then(follow: Following) -> None:
    layer = get_channel_layer()
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        await layer.send(follow.channel, {"type": FINAL_CHECK})


def _reply_row(reply_id: str) -> Message | None:
    return Message.objects.filter(pk=reply_id).prefetch_related("tool_calls").first()


def _outcome(message: dict[str, Any] | Message, follow: Following) -> Outcome:
    if isinstance(message, Message):
        message = dict(message_data(message, images=[]))
    stats = message.get("stats") or {}
    error_code = follow.error_code
    return Outcome(
        reply_id=message["id"],
        model=message["model"],
        content=message["content"][follow.offset :],
        tool_calls=[
            call
            for call in message.get("tool_calls") or []
            if call["source"] == ToolCall.CLIENT and call["status"] == ToolCall.Status.RUNNING
        ],
        status=message["status"],
        error=message.get("error") or "",
        error_code=error_code or ("upstream" if message["status"] == "error" else ""),
        done_reason=stats.get("done_reason") or "",
        prompt_tokens=stats.get("prompt_eval_count"),
        completion_tokens=stats.get("eval_count"),
    )


async def updates(follow: Following) -> AsyncIterator[Delta | Outcome]:
    """The reply's new text as it comes, then its Outcome once it is saved."""
    layer = get_channel_layer()
    while True:
        event = await layer.receive(follow.channel)
        kind = event.get("type")
        if kind == "reply.delta" and event["message_id"] == follow.reply_id:
            if event["kind"] == "token":
                yield Delta(event["content"])
        elif kind == "reply.error" and event["message_id"] == follow.reply_id:
            follow.error_code = event["code"]
        elif kind == "reply.done" and event["message"]["id"] == follow.reply_id:
            yield _outcome(event["message"], follow)
            return
        elif kind in (FINAL_CHECK, "conversation.deleted"):
            row = await database_sync_to_async(_reply_row)(follow.reply_id)
            if row is None:
                raise ApiError(
                    404, "The conversation was deleted while the reply was being written.", code="not_found"
                )
            if row.is_final:
                yield _outcome(row, follow)
                return


async def outcome(follow: Following) -> Outcome:
    async for update in updates(follow):
        if isinstance(update, Outcome):
            return update
    raise AssertionError("updates() ends with an Outcome")
