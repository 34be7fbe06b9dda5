"""What is sent to Ollama's /api/chat: the conversation replayed in order."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from django.db.models import Exists, OuterRef

from conversations.images import base64_for_ollama, images_by_message
from conversations.models import Conversation, Image, Message, ToolCall
from conversations.options import keep_alive_for_ollama
from conversations.tools.records import calls_of

DENIED = "The user denied this call."
CANCELLED = "The call was cancelled before it returned."


def result_for_model(call: ToolCall) -> str:
    """What the model is told a call gave: its result, its error, or why there is none."""
    if call.status == ToolCall.Status.OK:
        return call.result
    if call.status == ToolCall.Status.ERROR:
        return f"Error: {call.error}"
    if call.status == ToolCall.Status.DENIED:
        return DENIED
    return CANCELLED


def round_messages(text: str, calls: list[ToolCall]) -> list[dict[str, Any]]:
    """One round of a reply as Ollama's tool loop has it: the assistant's text with the calls it
    asked for, then one `tool` message per call, in order."""
    asked = []
    for call in calls:
        entry: dict[str, Any] = {"function": {"name": call.name, "arguments": call.arguments}}
        if call.call_id:
            entry["id"] = call.call_id
        asked.append(entry)
    messages: list[dict[str, Any]] = [{"role": "assistant", "content": text, "tool_calls": asked}]
    for call in calls:
        result: dict[str, Any] = {"role": "tool", "tool_name": call.name, "content": result_for_model(call)}
        if call.call_id:
            result["tool_call_id"] = call.call_id
        messages.append(result)
    return messages


def reply_with_tools(content: str, calls: list[ToolCall]) -> list[dict[str, Any]]:
    """A saved reply that called tools, expanded round by round; its text is split where each round's calls came."""
    messages: list[dict[str, Any]] = []
    start = 0
    by_round: dict[int, list[ToolCall]] = defaultdict(list)
    for call in calls:
        by_round[call.round].append(call)
    for number in sorted(by_round):
        offset = min(by_round[number][0].content_offset, len(content))
        messages += round_messages(content[start:offset], by_round[number])
        start = max(start, offset)
    if content[start:]:
        messages.append({"role": "assistant", "content": content[start:]})
    return messages


def build_chat_request(conversation: Conversation, *, before: Message) -> dict[str, Any]:
    return build_chat_requests([(conversation, before)])[0]


def build_continue_request(conversation: Conversation, reply: Message) -> dict[str, Any]:
    """The request that makes the model go on with `reply`: Ollama continues a conversation
    that ends with the assistant's own partial message rather than answering it anew."""
    payload = build_chat_request(conversation, before=reply)
    payload["messages"].append({"role": "assistant", "content": reply.content})
    return payload


class HistoryRow(NamedTuple):
    """A shown message as the replay needs it."""

    conversation_id: Any
    id: Any
    role: str
    content: str
    status: str
    has_images: bool
    has_calls: bool
    created_at: Any


def shown_history(conversation_ids: list[Any]) -> dict[Any, list[HistoryRow]]:
    """Every shown message of these conversations, in the page's order (time, then id), in one query."""
    rows = (
        Message.objects.filter(conversation_id__in=conversation_ids, active=True)
        .annotate(
            has_images=Exists(Image.objects.filter(message=OuterRef("pk"))),
            has_calls=Exists(ToolCall.objects.filter(message=OuterRef("pk"))),
        )
        .order_by("created_at", "id")
        .values_list(*HistoryRow._fields)
    )
    history: dict[Any, list[HistoryRow]] = defaultdict(list)
    for row in rows:
        history[row[0]].append(HistoryRow(*row))
    return history


def build_chat_requests(replies: list[tuple[Conversation, Message]]) -> list[dict[str, Any]]:
    """The /api/chat request for each (conversation, reply to write), reading all their messages at once."""
    return requests_from_history(replies, shown_history([conversation.pk for conversation, _ in replies]))


def requests_from_history(
    replies: list[tuple[Conversation, Message]], history: dict[Any, list[HistoryRow]]
) -> list[dict[str, Any]]:
    """The /api/chat request for each (conversation, reply to write) from the conversations' shown messages.

    A request replays the system prompt, then every message before the reply,
    in order. Failed replies are left out (their text is a fragment the user
    never accepted); stopped and interrupted replies stay, as the user saw them.
    """
    left_out = (Message.Status.ERROR, Message.Status.STREAMING)
    earlier_by_reply = [
        [
            row
            for row in history.get(conversation.pk, [])
            if row.status not in left_out
            and (row.created_at, row.id) < (before.created_at, before.pk)  # the page's order
        ]
        for conversation, before in replies
    ]
    rows = [row for earlier in earlier_by_reply for row in earlier]
    images = images_by_message(row.id for row in rows if row.has_images)
    with_calls = [row.id for row in rows if row.has_calls]
    calls = calls_of(with_calls) if with_calls else {}
    return [
        _request(conversation, before, earlier, images, calls)
        for (conversation, before), earlier in zip(replies, earlier_by_reply, strict=True)
    ]


def _request(
    conversation: Conversation,
    before: Message,
    earlier: list[HistoryRow],
    images: dict[Any, list[Image]],
    calls: dict[Any, list[ToolCall]],
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if conversation.system_prompt.strip():
        messages.append({"role": "system", "content": conversation.system_prompt})
    for row in earlier:
        if row.id in calls:
            messages += reply_with_tools(row.content, calls[row.id])
            continue
        if row.role == Message.Role.ASSISTANT and not row.content:
            continue
        entry: dict[str, Any] = {"role": row.role, "content": row.content}
        if images.get(row.id):
            # Sent again on every turn, so follow-up questions about an image work.
            entry["images"] = [base64_for_ollama(image) for image in images[row.id]]
        messages.append(entry)
    payload: dict[str, Any] = {"model": before.model or conversation.model, "messages": messages}
    if before.format is not None:  # only this turn is constrained; earlier turns stay as they were
        payload["format"] = before.format
    options = {key: value for key, value in (conversation.options or {}).items() if value is not None}
    if options:
        payload["options"] = options
    keep_alive = keep_alive_for_ollama(conversation.keep_alive) if conversation.keep_alive else None
    if keep_alive is not None:
        payload["keep_alive"] = keep_alive
    return payload
