"""Channel-layer groups of a conversation, and the events sent to them from outside a reply.

A reply's own deltas are published by generation.Generation; everything else
that tells tabs about a conversation, or asks its reply to do something, is here.
The groups of model pulls are named here too; pulls.py sends their events.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from conversations.chat import timeline

# Every Models page socket, on any worker, is in PULLS_GROUP and sees every pull.
# Each worker's pull listener is in PULLS_CONTROL_GROUP: requests about pulls go
# there, and the worker that runs a pull answers for it (see pulls.py).
PULLS_GROUP = "pulls"
PULLS_CONTROL_GROUP = "pulls.control"


def conversation_group(conversation_id: uuid.UUID) -> str:
    return f"conversation.{conversation_id}"


def control_group(conversation_id: uuid.UUID) -> str:
    return f"conversation.{conversation_id}.control"


async def request_stop(conversation_id: uuid.UUID) -> None:
    await get_channel_layer().group_send(control_group(conversation_id), {"type": "reply.stop"})


async def request_snapshot(conversation_id: uuid.UUID, reply_channel: str) -> None:
    await get_channel_layer().group_send(
        control_group(conversation_id), {"type": "reply.sync", "reply_channel": reply_channel}
    )


async def publish_history(conversation_id: uuid.UUID) -> None:
    """Tell every tab to show the conversation afresh (after a version switch)."""
    messages, has_more = await database_sync_to_async(timeline.recent_messages)(
        conversation_id=conversation_id
    )
    await get_channel_layer().group_send(
        conversation_group(conversation_id),
        {"type": "conversation.history", "messages": messages, "has_more": has_more},
    )


async def publish_title(conversation_id: uuid.UUID, title: str) -> None:
    await get_channel_layer().group_send(
        conversation_group(conversation_id), {"type": "conversation.title", "title": title}
    )


async def publish_deleted(conversation_id: uuid.UUID) -> None:
    await get_channel_layer().group_send(
        conversation_group(conversation_id), {"type": "conversation.deleted"}
    )


async def announce_interrupted(dead: list[dict[str, Any]]) -> None:
    layer = get_channel_layer()
    for message in dead:
        group = conversation_group(uuid.UUID(str(message["conversation_id"])))
        await layer.group_send(
            group,
            {
                "type": "reply.error",
                "code": "interrupted",
                "message": message["error"],
                "message_id": message["id"],
            },
        )
        await layer.group_send(group, {"type": "reply.done", "message": message})
