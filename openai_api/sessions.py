"""The app's conversations as the API sees them: found or made for a call, listed as items, deleted.

Plain synchronous database functions; every lookup is limited to the caller's
own conversations, so another user's id is "not found".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conversations.chat.titles import first_words
from conversations.images import ImageRejected, QuotaFull, store_upload
from conversations.models import Conversation, Image, Message, ToolCall
from openai_api.requests import Said, Turn, history_digest
from openai_api.shapes import ApiError

NOT_FOUND = "No conversation with that id."


@dataclass(frozen=True)
class Placed:
    """Where a call's turn goes: the conversation, whether the call made it, and (for a chat
    completion) the history digest it had before, to put back if the reply is refused."""

    conversation_id: uuid.UUID
    created: bool
    previous_history: str | None = None
    resumed_reply: uuid.UUID | None = None  # the reply the call's tool results let go on


def _not_found(kind: str = "conversation") -> ApiError:
    return ApiError(
        404, NOT_FOUND if kind == "conversation" else "No response with that id.", code="not_found"
    )


def own_conversation(*, user_id: int, conversation_id: uuid.UUID, lock: bool = False) -> Conversation:
    found = Conversation.objects.owned_by(user_id).filter(pk=conversation_id)
    conversation = (found.select_for_update() if lock else found).first()
    if conversation is None:
        raise _not_found()
    return conversation


def _last_reply_text(conversation: Conversation) -> str | None:
    return (
        conversation.messages.filter(active=True, role=Message.Role.ASSISTANT)
        .order_by("-created_at", "-id")
        .values_list("content", flat=True)
        .first()
    )


def add_messages(conversation: Conversation, said: list[Said]) -> None:
    """Store messages a script sent (its own history) after the conversation's, as complete ones.

    Leading system messages of a conversation with no messages yet become its system prompt.
    """
    if not said:
        return
    if not conversation.messages.exists():
        leading = []
        while said and said[0].role == "system":
            leading.append(said[0].text)
            said = said[1:]
        if leading:
            conversation.system_prompt = "\n\n".join(leading)
    now = timezone.now()
    rows: list[Message] = []
    calls: list[ToolCall] = []
    question: Message | None = None
    for index, message in enumerate(said):
        if message.role == "tool":  # a result of the client's call, kept on the call
            found = next((call for call in calls if call.call_id == message.call_id), None)
            if found is not None:
                found.status, found.result = ToolCall.Status.OK, message.text
            continue
        row = Message(
            conversation=conversation,
            role=message.role,
            content=message.text,
            created_at=now + timedelta(microseconds=index),
        )
        if message.role == Message.Role.ASSISTANT and question is not None:
            row.exchange, row.reply_to, row.model = question.exchange, question, conversation.model
        question = row if message.role == Message.Role.USER else None
        rows.append(row)
        calls += [
            ToolCall(
                message=row,
                user_id=conversation.owner_id,
                round=0,
                position=position,
                content_offset=len(message.text),
                call_id=asked.call_id,
                name=asked.name,
                source=ToolCall.CLIENT,
                arguments=asked.arguments,
            )
            for position, asked in enumerate(message.calls)
        ]
    Message.objects.bulk_create(rows)
    ToolCall.objects.bulk_create(calls)
    first_question = next((message.text for message in said if message.role == "user"), "")
    if not conversation.title and first_question:
        conversation.title = first_words(first_question)


def _same_reply(stored: str | None, sent: str, earlier: list[Said]) -> bool:
    """Whether the reply a script sends back is the stored one: after tool calls the script
    holds only the text that came after them."""
    if stored is None:
        return False
    return stored == sent or (any(message.role == "tool" for message in earlier) and stored.endswith(sent))


def _waiting_reply(conversation: Conversation, asked: Said) -> uuid.UUID | None:
    """The conversation's last reply, if it waits for the results of the calls `asked` holds."""
    reply = (
        conversation.messages.filter(active=True, role=Message.Role.ASSISTANT)
        .order_by("-created_at", "-id")
        .first()
    )
    if reply is None:
        return None
    waiting = reply.tool_calls.filter(source=ToolCall.CLIENT, status=ToolCall.Status.RUNNING)
    ids = set(waiting.values_list("call_id", flat=True))
    return reply.pk if ids and ids == {call.call_id for call in asked.calls} else None


def _results_conversation(*, user_id: int, turn: Turn) -> Placed:
    """A chat completion that brings the results of the client's tool calls: the conversation whose
    last reply made those calls goes on; else a new one holds the history, its last reply the calls'."""
    earlier, said = turn.earlier, [*turn.earlier, *turn.results]
    with transaction.atomic():
        conversation, reply_id = None, None
        candidates = Conversation.objects.owned_by(user_id).filter(api_history=history_digest(earlier[:-1]))
        for candidate in candidates.select_for_update().order_by("-updated_at")[:5]:
            reply_id = _waiting_reply(candidate, earlier[-1])
            if reply_id is not None:
                conversation = candidate
                break
        created = conversation is None
        if conversation is None:
            conversation = _new_conversation(user_id=user_id, model=turn.model)
            add_messages(conversation, earlier)
            reply_id = (
                conversation.messages.filter(role=Message.Role.ASSISTANT)
                .order_by("-created_at", "-id")
                .values_list("pk", flat=True)
                .first()
            )
        previous = conversation.api_history
        conversation.api_history = history_digest(said)
        conversation.model = turn.model
        conversation.options = turn.options
        conversation.save(
            update_fields=["api_history", "model", "options", "system_prompt", "title", "updated_at"]
        )
    return Placed(conversation.pk, created, previous, resumed_reply=reply_id)


def _new_conversation(*, user_id: int, model: str, metadata: dict[str, str] | None = None) -> Conversation:
    return Conversation.objects.create(
        owner_id=user_id, model=model, from_api=True, api_metadata=metadata or {}
    )


def chat_conversation(*, user_id: int, turn: Turn) -> Placed:
    """The conversation a chat completion goes in: the caller's conversation whose stored history its
    `messages` extend by a reply and a new question, or else a new one holding its earlier messages.

    The conversation remembers a digest of the messages of the call, so the
    script's next call, which resends them with the reply and a new question,
    is known; the reply's text must match too.
    """
    earlier = turn.earlier
    if turn.question is None:
        return _results_conversation(user_id=user_id, turn=turn)
    with transaction.atomic():
        conversation = None
        if earlier and earlier[-1].role == "assistant":
            candidates = Conversation.objects.owned_by(user_id).filter(
                api_history=history_digest(earlier[:-1])
            )
            for candidate in candidates.select_for_update().order_by("-updated_at")[:5]:
                if _same_reply(_last_reply_text(candidate), earlier[-1].text, earlier):
                    conversation = candidate
                    break
        created = conversation is None
        if conversation is None:
            conversation = _new_conversation(user_id=user_id, model=turn.model)
            add_messages(conversation, earlier)
        previous = conversation.api_history
        conversation.api_history = history_digest([*earlier, turn.question])
        conversation.model = turn.model
        conversation.options = turn.options  # a chat completion is stateless: its own options only
        conversation.save(
            update_fields=["api_history", "model", "options", "system_prompt", "title", "updated_at"]
        )
    return Placed(conversation.pk, created, previous)


def response_conversation(
    *,
    user_id: int,
    turn: Turn,
    conversation_id: uuid.UUID | None,
    previous_reply_id: uuid.UUID | None,
    instructions: str | None,
) -> Placed:
    """The conversation a response goes in: the one named, the one of the previous response
    (which must be its latest reply), or a new one; the input's earlier items are added to it."""
    with transaction.atomic():
        if conversation_id is not None:
            conversation = own_conversation(user_id=user_id, conversation_id=conversation_id, lock=True)
        elif previous_reply_id is not None:
            conversation = _conversation_of_reply(user_id=user_id, reply_id=previous_reply_id)
        else:
            conversation = _new_conversation(user_id=user_id, model=turn.model)
        created = conversation_id is None and previous_reply_id is None
        add_messages(conversation, turn.earlier)
        if instructions is not None:
            conversation.system_prompt = instructions
        conversation.model = turn.model
        if turn.options:
            conversation.options = {**conversation.options, **turn.options}
        conversation.save(update_fields=["model", "options", "system_prompt", "title", "updated_at"])
    return Placed(conversation.pk, created)


def _conversation_of_reply(*, user_id: int, reply_id: uuid.UUID) -> Conversation:
    reply = (
        Message.objects.filter(pk=reply_id, role=Message.Role.ASSISTANT)
        .values_list("conversation_id", flat=True)
        .first()
    )
    if reply is None:
        raise _not_found("response")
    conversation = Conversation.objects.owned_by(user_id).select_for_update().filter(pk=reply).first()
    if conversation is None:
        raise _not_found("response")
    latest = (
        conversation.messages.filter(active=True, role=Message.Role.ASSISTANT)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    if latest != reply_id:
        raise ApiError(
            400,
            "Only the latest response of a conversation can be continued; pass its conversation instead.",
            code="invalid_value",
            param="previous_response_id",
        )
    return conversation


def store_images(*, user_id: int, images: tuple[bytes, ...]) -> tuple[uuid.UUID, ...]:
    """The question's images, checked and kept as the page's uploads are (to be attached by the
    start); if one is refused, none is kept."""
    ids: list[uuid.UUID] = []
    try:
        for index, data in enumerate(images):
            ids.append(
                store_upload(owner_id=user_id, upload=SimpleUploadedFile(f"image-{index + 1}", data)).pk
            )
    except (ImageRejected, QuotaFull) as exc:
        Image.objects.filter(pk__in=ids).delete()
        raise ApiError(400, exc.message, code="invalid_image") from None
    return tuple(ids)


def discard(*, user_id: int, image_ids: tuple[uuid.UUID, ...], placed: Placed | None) -> None:
    """Undo what a call saved before its reply was refused: its images, its conversation if it
    made it, or else the history digest it changed (so the script's retry still continues it)."""
    Image.objects.filter(owner_id=user_id, pk__in=image_ids, message__isnull=True).delete()
    if placed is None:
        return
    conversations = Conversation.objects.filter(owner_id=user_id, pk=placed.conversation_id)
    if placed.created:
        conversations.delete()
    elif placed.previous_history is not None:
        conversations.update(api_history=placed.previous_history)


# /v1/conversations ---------------------------------------------------------------------

MAX_METADATA_PAIRS = 16


def read_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA_PAIRS
        or not all(isinstance(k, str) and len(k) <= 64 for k in value)
        or not all(isinstance(v, str) and len(v) <= 512 for v in value.values())
    ):
        raise ApiError(
            400,
            f"`metadata` must map at most {MAX_METADATA_PAIRS} keys (up to 64 characters) to text "
            "(up to 512 characters).",
            code="invalid_value",
            param="metadata",
        )
    return value


def create_conversation(*, user_id: int, metadata: dict[str, str], items: list[Said]) -> Conversation:
    if any(item.images for item in items):
        raise ApiError(
            400, "A conversation's initial items cannot carry images.", code="invalid_value", param="items"
        )
    with transaction.atomic():
        conversation = _new_conversation(user_id=user_id, model="", metadata=metadata)
        add_messages(conversation, items)
        conversation.save(update_fields=["system_prompt", "title"])
    return conversation


def delete_conversation(*, user_id: int, conversation_id: uuid.UUID) -> None:
    """Delete it with its messages; a reply being written stops (conversations/signals.py)."""
    own_conversation(user_id=user_id, conversation_id=conversation_id).delete()


def list_items(
    *, user_id: int, conversation_id: uuid.UUID, after: uuid.UUID | None, limit: int, descending: bool
) -> tuple[list[dict[str, Any]], bool]:
    """The conversation's shown messages as (id, role, text, status) dicts, a page of `limit`, and whether more follow."""
    conversation = own_conversation(user_id=user_id, conversation_id=conversation_id)
    messages = conversation.messages.filter(active=True).exclude(
        role=Message.Role.ASSISTANT, content="", status=Message.Status.ERROR
    )
    order = ("-created_at", "-id") if descending else ("created_at", "id")
    if after is not None:
        anchor = messages.filter(pk=after).values_list("created_at", "id").first()
        if anchor is None:
            raise ApiError(
                400, "`after` is not an item of this conversation.", code="invalid_value", param="after"
            )
        created, pk = anchor
        if descending:
            messages = messages.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=pk))
        else:
            messages = messages.filter(Q(created_at__gt=created) | Q(created_at=created, id__gt=pk))
    rows = list(messages.order_by(*order).values("id", "role", "content", "status")[: limit + 1])
    return rows[:limit], len(rows) > limit
