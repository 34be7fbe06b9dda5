"""Every event about a conversation on the channel layer: its groups, and one TypedDict and one
builder for each event. This is the only module that names them.

Tabs are members of the conversation's group; the reply task listens on the
control group. A reply's own events (started, deltas, snapshot, done, error)
are sent by chat/generation.py and chat/launch.py with the builders here; the
publish_* and request_* functions send the rest.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal, TypedDict

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conversations.chat import timeline
from conversations.chat.timeline import MessageData
from conversations.tools.records import ToolCallData


def conversation_group(conversation_id: uuid.UUID) -> str:
    """Every tab open on the conversation, on any worker."""
    return f"conversation.{conversation_id}"


def control_group(conversation_id: uuid.UUID) -> str:
    """The reply being written in the conversation, on whichever worker runs it."""
    return f"conversation.{conversation_id}.control"


# To the tabs --------------------------------------------------------------------


class MessageSaved(TypedDict):
    type: Literal["message.saved"]
    message: MessageData
    client_id: str
    title: str


def message_saved(message: MessageData, *, client_id: str, title: str) -> MessageSaved:
    return {"type": "message.saved", "message": message, "client_id": client_id, "title": title}


class ReplyStarted(TypedDict):
    type: Literal["reply.started"]
    message: MessageData
    replaces: list[str]  # ids of the messages it takes the place of (regenerate, edit)


def reply_started(message: MessageData, *, replaces: list[str]) -> ReplyStarted:
    return {"type": "reply.started", "message": message, "replaces": replaces}


class ReplyDelta(TypedDict):
    type: Literal["reply.delta"]
    kind: Literal["token", "thinking"]
    message_id: str
    seq: int
    content: str


def reply_delta(*, kind: Literal["token", "thinking"], message_id: str, seq: int, content: str) -> ReplyDelta:
    return {"type": "reply.delta", "kind": kind, "message_id": message_id, "seq": seq, "content": content}


class ReplySnapshot(TypedDict):
    type: Literal["reply.snapshot"]
    message: dict[str, Any]  # MessageData with the text so far
    seq: int  # the last delta it includes


def reply_snapshot(message: dict[str, Any], *, seq: int) -> ReplySnapshot:
    return {"type": "reply.snapshot", "message": message, "seq": seq}


class ReplyDone(TypedDict):
    type: Literal["reply.done"]
    message: MessageData | dict[str, Any]


def reply_done(message: MessageData | dict[str, Any]) -> ReplyDone:
    return {"type": "reply.done", "message": message}


class ReplyError(TypedDict):
    type: Literal["reply.error"]
    code: str
    message: str
    message_id: str


def reply_error(*, code: str, message: str, message_id: str) -> ReplyError:
    return {"type": "reply.error", "code": code, "message": message, "message_id": message_id}


class ReplyTool(TypedDict):
    """A tool call of the reply began, waits for approval, or ended; a tab shows the latest state by id."""

    type: Literal["reply.tool"]
    message_id: str
    call: ToolCallData


def reply_tool(*, message_id: str, call: ToolCallData) -> ReplyTool:
    return {"type": "reply.tool", "message_id": message_id, "call": call}


class ReplyNote(TypedDict):
    """Something the reply says about its tools apart from a call (a server down)."""

    type: Literal["reply.note"]
    message_id: str
    text: str


def reply_note(*, message_id: str, text: str) -> ReplyNote:
    return {"type": "reply.note", "message_id": message_id, "text": text}


class ConversationHistory(TypedDict):
    type: Literal["conversation.history"]
    messages: list[MessageData]
    has_more: bool


class ConversationTitle(TypedDict):
    type: Literal["conversation.title"]
    title: str


class ConversationDeleted(TypedDict):
    type: Literal["conversation.deleted"]


# To the reply ---------------------------------------------------------------------


class ReplyStop(TypedDict):
    type: Literal["reply.stop"]


class ReplySync(TypedDict):
    type: Literal["reply.sync"]
    reply_channel: str  # the tab that asked for a snapshot


class ReplyFinished(TypedDict):
    """The reply task tells its own listener to end (see generation.Generation._end_listener)."""

    type: Literal["reply.finished"]


REPLY_FINISHED: ReplyFinished = {"type": "reply.finished"}


class ReplyApproval(TypedDict):
    """A tab of the owner allowed or denied a call that waits for approval."""

    type: Literal["reply.approval"]
    call_id: str
    allow: bool


# Sending ----------------------------------------------------------------------------


async def request_stop(conversation_id: uuid.UUID) -> None:
    event: ReplyStop = {"type": "reply.stop"}
    await get_channel_layer().group_send(control_group(conversation_id), event)


async def request_snapshot(conversation_id: uuid.UUID, reply_channel: str) -> None:
    event: ReplySync = {"type": "reply.sync", "reply_channel": reply_channel}
    await get_channel_layer().group_send(control_group(conversation_id), event)


async def request_approval(conversation_id: uuid.UUID, *, call_id: uuid.UUID, allow: bool) -> None:
    event: ReplyApproval = {"type": "reply.approval", "call_id": str(call_id), "allow": allow}
    await get_channel_layer().group_send(control_group(conversation_id), event)


async def publish_history(conversation_id: uuid.UUID) -> None:
    """Tell every tab to show the conversation afresh (after a version switch)."""
    messages, has_more = await database_sync_to_async(timeline.recent_messages)(
        conversation_id=conversation_id
    )
    event: ConversationHistory = {"type": "conversation.history", "messages": messages, "has_more": has_more}
    await get_channel_layer().group_send(conversation_group(conversation_id), event)


async def publish_title(conversation_id: uuid.UUID, title: str) -> None:
    event: ConversationTitle = {"type": "conversation.title", "title": title}
    await get_channel_layer().group_send(conversation_group(conversation_id), event)


async def publish_deleted(conversation_id: uuid.UUID) -> None:
    event: ConversationDeleted = {"type": "conversation.deleted"}
    await get_channel_layer().group_send(conversation_group(conversation_id), event)


async def announce_interrupted(dead: list[dict[str, Any]]) -> None:
    """Replies found without a writer (a worker died): their tabs hear of it, as of any failed reply."""
    layer = get_channel_layer()
    for message in dead:
        group = conversation_group(uuid.UUID(str(message["conversation_id"])))
        await layer.group_send(
            group, reply_error(code="interrupted", message=message["error"], message_id=message["id"])
        )
        await layer.group_send(group, reply_done(message))
