"""What is sent to Ollama's /api/chat: the conversation replayed in order."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Exists, OuterRef

from conversations.images import base64_for_ollama, images_by_message
from conversations.models import Conversation, Image, Message
from conversations.options import keep_alive_for_ollama


def build_chat_request(conversation: Conversation, *, before: Message) -> dict[str, Any]:
    return build_chat_requests([(conversation, before)])[0]


def build_continue_request(conversation: Conversation, reply: Message) -> dict[str, Any]:
    """The request that makes the model go on with `reply`: Ollama continues a conversation
    that ends with the assistant's own partial message rather than answering it anew."""
    payload = build_chat_request(conversation, before=reply)
    payload["messages"].append({"role": "assistant", "content": reply.content})
    return payload


def build_chat_requests(replies: list[tuple[Conversation, Message]]) -> list[dict[str, Any]]:
    """The /api/chat request for each (conversation, reply to write), reading all their messages at once.

    A request replays the system prompt, then every message before the reply,
    in order. Failed replies are left out (their text is a fragment the user
    never accepted); stopped and interrupted replies stay, as the user saw them.
    """
    rows = list(
        Message.objects.filter(
            conversation_id__in=[conversation.pk for conversation, _ in replies], active=True
        )
        .exclude(status__in=[Message.Status.ERROR, Message.Status.STREAMING])
        .annotate(has_images=Exists(Image.objects.filter(message=OuterRef("pk"))))
        .order_by("created_at", "id")
        .values_list("conversation_id", "id", "role", "content", "has_images", "created_at")
    )
    by_conversation: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_conversation[row[0]].append(row)
    images = images_by_message(row[1] for row in rows if row[4])
    requests = []
    for conversation, before in replies:
        earlier = [
            row
            for row in by_conversation[conversation.pk]
            if (row[5], row[1]) < (before.created_at, before.pk)  # the page's order: time, then id
        ]
        requests.append(_request(conversation, before, earlier, images))
    return requests


def _request(
    conversation: Conversation,
    before: Message,
    earlier: list[tuple[Any, ...]],
    images: dict[Any, list[Image]],
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if conversation.system_prompt.strip():
        messages.append({"role": "system", "content": conversation.system_prompt})
    for _, message_id, role, content, _, _ in earlier:
        if role == Message.Role.ASSISTANT and not content:
            continue
        entry: dict[str, Any] = {"role": role, "content": content}
        if images.get(message_id):
            # Sent again on every turn, so follow-up questions about an image work.
            entry["images"] = [base64_for_ollama(image) for image in images[message_id]]
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
