"""The chat socket: who may connect, what frames mean, and relaying reply events."""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async

from conversations.chat import branches, events, launch, liveness, replies, timeline
from conversations.chat.frames import (
    parse_approval_frame,
    parse_chat_frame,
    parse_message_id,
    parse_regenerate_frame,
    parse_sync_frame,
)
from conversations.sockets import FrameError, JsonSocket, error_frame
from conversations.tools import records


class ChatConsumer(JsonSocket):
    conversation_id: uuid.UUID
    group: str | None = None
    refusals = (FrameError, replies.ReplyRefused)

    async def connect(self) -> None:
        if not await self.admit_user():
            return
        user = self.scope["user"]
        self.conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        owned = await database_sync_to_async(replies.owns_conversation)(
            conversation_id=self.conversation_id, user_id=user.pk
        )
        if not owned:
            await self.accept()
            await self.close(code=4404)
            return
        self.group = events.conversation_group(self.conversation_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.admitted = True

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        try:
            await self.handle(content)
        except replies.ReplyRefused as exc:
            if exc.code != "deleted":
                raise
            await self.conversation_deleted({})  # deleted while this tab was open

    async def handle(self, content: dict[str, Any]) -> None:
        match content.get("type"):
            case "chat" | "edit":
                request = parse_chat_frame(content)
                await launch.start(
                    conversation_id=self.conversation_id,
                    content=request.content,
                    model=request.model,
                    client_id=request.client_id,
                    mode="new" if content["type"] == "chat" else "edit",
                    image_ids=request.image_ids if content["type"] == "chat" else (),
                    format=request.format,
                    time_zone=self.time_zone(),
                    message_id=request.message_id if content["type"] == "edit" else None,
                )
            case "regenerate":
                request = parse_regenerate_frame(content)
                await launch.start(
                    conversation_id=self.conversation_id,
                    content="",
                    model=request.model,
                    mode="regenerate",
                    format=request.format,
                    time_zone=self.time_zone(),
                    message_id=request.message_id,
                )
            case "continue":
                await launch.start(
                    conversation_id=self.conversation_id,
                    content="",
                    model="",
                    mode="continue",
                    message_id=parse_message_id(content.get("message_id")),
                    time_zone=self.time_zone(),
                )
            case "switch_version":
                reply_id = parse_message_id(content.get("message_id"))
                await database_sync_to_async(branches.switch_version)(
                    conversation_id=self.conversation_id, reply_id=reply_id
                )
                await events.publish_history(self.conversation_id)
            case "approve" | "deny":
                await self.approve(parse_approval_frame(content), allow=content["type"] == "approve")
            case "delete":
                message_id = parse_message_id(content.get("message_id"))
                await database_sync_to_async(branches.delete_exchange)(
                    conversation_id=self.conversation_id, message_id=message_id
                )
                await events.publish_history(self.conversation_id)
            case "stop":
                await self.stop()
            case "sync":
                await self.sync(parse_sync_frame(content))
            case "ping":
                await self.send_json({"type": "pong"})
            case _:
                raise FrameError("bad_frame", "Unknown frame type.")

    async def stop(self) -> None:
        reply_id = await database_sync_to_async(replies.streaming_reply_id)(
            conversation_id=self.conversation_id
        )
        if reply_id is None:
            raise FrameError("not_streaming", "No reply is being written.")
        await events.request_stop(self.conversation_id)

    async def approve(self, call_id: uuid.UUID, *, allow: bool) -> None:
        """Answer a call waiting for approval in this conversation; the reply task, on whichever
        worker runs it, hears it on its control channel."""
        waiting = await database_sync_to_async(records.waiting_call)(
            call_id=call_id, conversation_id=self.conversation_id
        )
        if not waiting:
            raise FrameError("not_waiting", "No tool call of this conversation waits for that answer.")
        await events.request_approval(self.conversation_id, call_id=call_id, allow=allow)

    def time_zone(self) -> str:
        """The browser's time zone, as the page keeps it in the `tz` cookie (checked where it is used)."""
        return str(self.scope.get("cookies", {}).get("tz", ""))[:64]

    async def sync(self, after: str | None) -> None:
        await liveness.interrupt_dead(self.conversation_id)
        messages, reset, has_more = await database_sync_to_async(timeline.messages_after)(
            conversation_id=self.conversation_id, after=after
        )
        await self.send_json({"type": "history", "messages": messages, "reset": reset, "has_more": has_more})
        if any(message["status"] == "streaming" for message in messages):
            await events.request_snapshot(self.conversation_id, self.channel_name)

    # Group events from generation.py -> frames ------------------------------

    async def message_saved(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "message",
                "message": event["message"],
                "client_id": event["client_id"],
                "title": event["title"],
            }
        )

    async def reply_started(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "reply", "message": event["message"], "seq": 0, "replaces": event["replaces"]}
        )

    async def conversation_history(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "history", "messages": event["messages"], "reset": True, "has_more": event["has_more"]}
        )

    async def conversation_deleted(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "deleted"})
        await self.close(code=4404)

    async def conversation_title(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "title", "title": event["title"]})

    async def reply_snapshot(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "reply", "message": event["message"], "seq": event["seq"]})

    async def reply_delta(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": event["kind"],
                "message_id": event["message_id"],
                "seq": event["seq"],
                "content": event["content"],
            }
        )

    async def reply_done(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "done", "message": event["message"]})

    async def reply_tool(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "tool", "message_id": event["message_id"], "call": event["call"]})

    async def reply_note(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "note", "message_id": event["message_id"], "text": event["text"]})

    async def reply_error(self, event: dict[str, Any]) -> None:
        await self.send_json(error_frame(event["code"], event["message"], event["message_id"]))
