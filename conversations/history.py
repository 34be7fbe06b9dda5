"""What is sent to Ollama's /api/chat: the conversation replayed in order."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q

from conversations.images import base64_for_ollama, images_by_message
from conversations.models import Conversation, Image, Message
from conversations.options import keep_alive_for_ollama


def build_chat_messages(conversation: Conversation, *, before: Message) -> list[dict[str, Any]]:
    """The system prompt, then every earlier message in order.

    Failed replies are left out (their text is a fragment the user never
    accepted); stopped and interrupted replies stay, as the user saw them.
    """
    messages: list[dict[str, Any]] = []
    if conversation.system_prompt.strip():
        messages.append({"role": "system", "content": conversation.system_prompt})
    earlier = list(
        conversation.messages.filter(active=True)
        .filter(Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id))
        .exclude(status=Message.Status.ERROR)
        .exclude(status=Message.Status.STREAMING)
        .annotate(has_images=Exists(Image.objects.filter(message=OuterRef("pk"))))
        .order_by("created_at", "id")
        .values_list("id", "role", "content", "has_images")
    )
    images = images_by_message(message_id for message_id, _, _, has_images in earlier if has_images)
    for message_id, role, content, _ in earlier:
        if role == Message.Role.ASSISTANT and not content:
            continue
        entry: dict[str, Any] = {"role": role, "content": content}
        if images.get(message_id):
            # Sent again on every turn, so follow-up questions about an image work.
            entry["images"] = [base64_for_ollama(image) for image in images[message_id]]
        messages.append(entry)
    return messages


def build_chat_request(conversation: Conversation, *, before: Message) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": before.model or conversation.model,
        "messages": build_chat_messages(conversation, before=before),
    }
    if before.format is not None:  # only this turn is constrained; earlier turns stay as they were
        payload["format"] = before.format
    options = {key: value for key, value in (conversation.options or {}).items() if value is not None}
    if options:
        payload["options"] = options
    if conversation.keep_alive:
        payload["keep_alive"] = keep_alive_for_ollama(conversation.keep_alive)
    return payload
