"""Taking conversations out: Markdown, JSON, or a zip of the JSON and its image files."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

from django.utils import timezone

from conversations.models import Conversation, Message, ToolCall

FORMAT = "ollama-chat-export"
VERSION = 1
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def _messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.order_by("created_at", "id").prefetch_related("images", "tool_calls"))


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "round": call.round,
        "position": call.position,
        "content_offset": call.content_offset,
        "call_id": call.call_id,
        "name": call.name,
        "source": call.source,
        "arguments": call.arguments,
        "status": call.status,
        "result": call.result,
        "error": call.error,
        "duration_ms": call.duration_ms,
    }


def export_data(conversation: Conversation, *, embed_images: bool = True) -> dict[str, Any]:
    """Everything about a conversation; images as base64, or as file names for a zip."""
    messages = []
    for message in _messages(conversation):
        entry: dict[str, Any] = {
            "id": str(message.pk),
            "role": message.role,
            "content": message.content,
            "thinking": message.thinking,
            "model": message.model,
            "status": message.status,
            "error": message.error,
            "created_at": message.created_at.isoformat(),
            "exchange": str(message.exchange),
            "version": message.version,
            "active": message.active,
            "reply_to": str(message.reply_to_id) if message.reply_to_id else None,
            "parent": str(message.parent_id) if message.parent_id else None,
            "chosen": message.chosen,
            "stats": message.ollama_stats(),
            "format": message.format,
            "structured": message.structured,
            "tool_calls": [_tool_call(call) for call in message.tool_calls.all()],
            "tool_notes": message.tool_notes,
            "images": [],
        }
        for image in message.images.all():
            described = {
                "content_type": image.content_type,
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
            }
            if embed_images:
                with image.file.open("rb") as handle:
                    described["data"] = base64.b64encode(handle.read()).decode("ascii")
            else:
                described["file"] = f"images/{image.sha256}.{EXTENSIONS[image.content_type]}"
            entry["images"].append(described)
        messages.append(entry)
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "conversation": {
            "id": str(conversation.pk),
            "title": conversation.title,
            "model": conversation.model,
            "system_prompt": conversation.system_prompt,
            "options": conversation.options,
            "keep_alive": conversation.keep_alive,
            "pinned": conversation.pinned,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
            "messages": messages,
        },
    }


def export_json(conversation: Conversation) -> bytes:
    return json.dumps(export_data(conversation), ensure_ascii=False, indent=2).encode()


def export_zip(conversation: Conversation) -> bytes:
    """conversation.json plus the images as separate files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        data = export_data(conversation, embed_images=False)
        archive.writestr("conversation.json", json.dumps(data, ensure_ascii=False, indent=2))
        for message in _messages(conversation):
            for image in message.images.all():
                with image.file.open("rb") as handle:
                    archive.writestr(f"images/{image.sha256}.{EXTENSIONS[image.content_type]}", handle.read())
    return buffer.getvalue()


def export_markdown(conversation: Conversation) -> str:
    lines = [f"# {conversation.title or 'Conversation'}", ""]
    lines.append(f"Model: {conversation.model or '—'} · Started {conversation.created_at:%Y-%m-%d %H:%M} UTC")
    if conversation.system_prompt:
        lines += ["", "## System", "", conversation.system_prompt]
    for message in _messages(conversation):
        if not message.active:
            continue
        heading = {"user": "You", "assistant": message.model or "Assistant"}.get(message.role, message.role)
        lines += ["", f"## {heading}", f"*{message.created_at:%Y-%m-%d %H:%M} UTC*", ""]
        if message.thinking:
            lines += ["<details><summary>Thinking</summary>", "", message.thinking, "", "</details>", ""]
        for call in message.tool_calls.all():
            outcome = call.result if call.status == ToolCall.Status.OK else f"{call.status}: {call.error}"
            lines += [
                f"<details><summary>Used {call.name}</summary>",
                "",
                "```json",
                json.dumps(call.arguments, ensure_ascii=False),
                "```",
                "",
                "```",
                outcome.replace("```", "` ` `"),
                "```",
                "",
                "</details>",
                "",
            ]
        lines.append(message.content or f"*({message.status})*")
        lines += [
            f"![image {index}](images/{image.sha256}.{EXTENSIONS[image.content_type]})"
            for index, image in enumerate(message.images.all(), start=1)
        ]
    return "\n".join(lines) + "\n"
