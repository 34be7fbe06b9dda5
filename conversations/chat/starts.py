"""Starting replies: new questions, another answer to one (regenerate, edit), or more of a reply (continue).

These save the question and an empty reply (or mark the reply to continue as
streaming again) and say what to send Ollama; chat/launch.py then announces
them and starts the reply task (chat/generation.py). New questions that arrive together (a burst
of new chats) start in one transaction of a few statements for all of them,
rather than a transaction of eight statements each: on the single database
thread those would queue, and every reply's first token would wait for the
whole queue.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from conversations.chat import branches
from conversations.chat.prompt import (
    HistoryRow,
    build_chat_request,
    build_continue_request,
    reply_with_tools,
    requests_from_history,
    shown_history,
)
from conversations.chat.replies import (
    BUSY,
    DELETED,
    IsAlive,
    ReplyRefused,
    last_question,
    lock_conversation,
    sweep,
)
from conversations.chat.timeline import MessageData, message_data, reply_versions
from conversations.chat.titles import first_words
from conversations.models import Conversation, Image, Message, ToolCall
from conversations.tools.calls import capped
from conversations.tools.registry import ToolSpec, chosen_tools

# "regenerate": another answer to a question; "edit": a changed question and a new answer to it.
AnotherMode = Literal["regenerate", "edit"]
NO_MODEL = "Choose a model first."
IMAGE_GONE = "An attached image is missing or was already sent. Attach it again."


@dataclass
class StartedReply:
    user_message: MessageData | None  # None when regenerating: the question stays
    reply: MessageData
    title: str
    payload: dict[str, Any]
    replaced: list[str] = field(default_factory=list)  # ids of messages no longer shown
    interrupted: list[dict[str, Any]] = field(default_factory=list)  # dead replies found on the way
    owner_id: int = 0
    tools: list[ToolSpec] = field(default_factory=list)  # the conversation's tools the owner may use now
    tool_notes: list[str] = field(default_factory=list)  # tools left out, and why
    first_round: int = 0  # the number of the reply's next round of tool calls


@dataclass(frozen=True)
class NewQuestion:
    conversation_id: uuid.UUID
    content: str
    model: str = ""  # empty: the conversation's
    image_ids: tuple[uuid.UUID, ...] = ()
    format: str | dict[str, Any] | None = None


@dataclass
class _Accepted:
    index: int
    conversation: Conversation
    question: Message
    reply: Message
    images: list[Image]
    untitled: bool  # the conversation had no title: it takes the question's first words


def start_new_replies(
    questions: list[NewQuestion], *, is_alive: IsAlive
) -> list[StartedReply | ReplyRefused]:
    """Save each question and an empty streaming reply to it; one outcome per question, in order.

    The conversations are locked, so two tabs (or two workers) racing to start
    a reply in one conversation cannot both succeed. A refused question (busy,
    no model, an image that is gone) does not hold up the others.
    """
    now = timezone.now()
    outcomes: list[StartedReply | ReplyRefused | None] = [None] * len(questions)
    accepted: list[_Accepted] = []
    ids = [question.conversation_id for question in questions]
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        conversations = {conversation.pk: conversation for conversation in locked}
        interrupted, streaming = sweep(ids, is_alive)
        # Read once: each new question follows the message shown last (branches.py), and the
        # request replays what is shown.
        history = shown_history(ids)
        images = _unsent_images(questions, conversations)
        for index, asked in enumerate(questions):
            conversation = conversations.get(asked.conversation_id)
            model = asked.model or (conversation.model if conversation else "")
            if conversation is None:
                outcomes[index] = ReplyRefused("deleted", DELETED)
            elif asked.conversation_id in streaming:
                outcomes[index] = ReplyRefused("busy", BUSY)
            elif not model:
                outcomes[index] = ReplyRefused("no_model", NO_MODEL)
            elif images[index] is None:
                outcomes[index] = ReplyRefused("invalid", IMAGE_GONE)
            else:
                question = Message(
                    conversation=conversation,
                    role=Message.Role.USER,
                    content=asked.content,
                    parent_id=history[conversation.pk][-1].id if history.get(conversation.pk) else None,
                    created_at=now,
                )
                reply = _streaming_reply(question, model=model, format=asked.format, version=1, now=now)
                untitled = not conversation.title
                if untitled:
                    conversation.title = first_words(asked.content)
                conversation.model, conversation.updated_at = model, now
                accepted.append(
                    _Accepted(index, conversation, question, reply, images[index] or [], untitled)
                )
        # One statement for up to 19 questions with their replies on SQLite (999 parameters a
        # statement, 26 a message); a larger burst takes one more statement per 19.
        Message.objects.bulk_create([m for start in accepted for m in (start.question, start.reply)])
        for start in accepted:
            if start.images:
                Image.objects.filter(pk__in=[image.pk for image in start.images]).update(
                    message=start.question
                )
        _update_conversations(accepted, now)
    for start in accepted:
        history[start.conversation.pk].append(_history_row(start.question, has_images=bool(start.images)))
    # Outside the transaction: reading and encoding images must not hold the locks.
    payloads = requests_from_history([(start.conversation, start.reply) for start in accepted], history)
    for start, payload in zip(accepted, payloads, strict=True):
        tools, notes = chosen_tools(user_id=start.conversation.owner_id, keys=start.conversation.tools)
        outcomes[start.index] = StartedReply(
            user_message=message_data(start.question, images=start.images),
            reply=message_data(start.reply, version_ids=[str(start.reply.pk)], tool_calls=[]),
            title=start.conversation.title,
            payload=payload,
            interrupted=interrupted.get(start.conversation.pk, []),
            owner_id=start.conversation.owner_id,
            tools=tools,
            tool_notes=notes,
        )
    return outcomes  # type: ignore[return-value]  # every slot is filled above


def _history_row(question: Message, *, has_images: bool) -> HistoryRow:
    return HistoryRow(
        conversation_id=question.conversation_id,
        id=question.pk,
        role=question.role,
        content=question.content,
        status=question.status,
        has_images=has_images,
        has_calls=False,
        created_at=question.created_at,
    )


def _streaming_reply(
    question: Message, *, model: str, format: str | dict[str, Any] | None, version: int, now: datetime
) -> Message:
    """The empty reply to `question` (not saved yet), placed just after the question asked `now`."""
    return Message(
        conversation=question.conversation,
        role=Message.Role.ASSISTANT,
        model=model,
        status=Message.Status.STREAMING,
        format=format,
        exchange=question.exchange,
        version=version,
        reply_to=question,
        parent=question,
        created_at=now + timedelta(microseconds=1),
    )


def _update_conversations(accepted: list[_Accepted], now: datetime) -> None:
    """Model and time: a statement per model in use (one CASE for all costs more); titles: one CASE."""
    by_model: dict[str, list[uuid.UUID]] = defaultdict(list)
    for start in accepted:
        by_model[start.conversation.model].append(start.conversation.pk)
    for model, ids in by_model.items():
        Conversation.objects.filter(pk__in=ids).update(model=model, updated_at=now)
    untitled = [start.conversation for start in accepted if start.untitled]
    if untitled:
        Conversation.objects.bulk_update(untitled, ["title"])


def _unsent_images(
    questions: list[NewQuestion], conversations: dict[uuid.UUID, Conversation]
) -> list[list[Image] | None]:
    """Each question's images, in the order given; None where one is not its owner's unsent upload."""
    wanted = [image_id for question in questions for image_id in question.image_ids]
    # Locked, so that a sweep of stale uploads removing one now is waited for, not raced.
    unsent = Image.objects.select_for_update().filter(pk__in=wanted, message__isnull=True)
    found = {image.pk: image for image in unsent} if wanted else {}
    chosen: list[list[Image] | None] = []
    for question in questions:
        conversation = conversations.get(question.conversation_id)
        images = [found.get(image_id) for image_id in question.image_ids]
        owned = conversation is not None and all(
            image is not None and image.owner_id == conversation.owner_id for image in images
        )
        chosen.append([image for image in images if image is not None] if owned else None)
    return chosen


def start_another_reply(
    *,
    conversation_id: uuid.UUID,
    mode: AnotherMode,
    is_alive: IsAlive,
    content: str = "",
    model: str = "",
    format: str | dict[str, Any] | None = None,
    message_id: uuid.UUID | None = None,
) -> StartedReply:
    """Another answer to a question (regenerate), or to a changed one (edit).

    `message_id` names the shown reply to regenerate or the shown question to
    edit; None means the last one. What was shown from there on is kept as an
    earlier branch (branches.py), reachable with the version pager. Without a
    `format`, the exchange's earlier one is kept.
    """
    with transaction.atomic():
        conversation, interrupted = _locked_when_idle(conversation_id, is_alive)
        model = model or conversation.model
        if not model:
            raise ReplyRefused("no_model", NO_MODEL)
        previous = _question_for(conversation, mode, message_id)
        now = timezone.now()
        exchange = previous.exchange
        latest = (
            conversation.messages.filter(exchange=exchange).order_by("-version").values("version").first()
        ) or {"version": 0}
        version = latest["version"] + 1
        if format is None:  # another answer to the question keeps its structured output
            format = (
                conversation.messages.filter(exchange=exchange, role=Message.Role.ASSISTANT)
                .order_by("-version")
                .values_list("format", flat=True)
                .first()
            )
        if mode == "regenerate":
            shown_reply = previous.replies.filter(active=True).first()
            replaced = branches.hide_from(conversation, shown_reply) if shown_reply else []
            question = previous
        else:
            replaced = branches.hide_from(conversation, previous)
            question = Message.objects.create(
                conversation=conversation,
                role=Message.Role.USER,
                content=content,
                exchange=exchange,
                version=version,
                parent_id=previous.parent_id,
                created_at=now,
            )
            branches.choose(question)
        reply = _streaming_reply(question, model=model, format=format, version=version, now=now)
        reply.save(force_insert=True)
        branches.choose(reply)
        conversation.model = model
        conversation.title = conversation.title or first_words(question.content)
        conversation.save(update_fields=["model", "title", "updated_at"])
    payload = build_chat_request(conversation, before=reply)
    tools, notes = chosen_tools(user_id=conversation.owner_id, keys=conversation.tools)
    return StartedReply(
        user_message=None if mode == "regenerate" else message_data(question, images=[]),
        reply=message_data(
            reply, version_ids=reply_versions(conversation.pk, {exchange})[exchange], tool_calls=[]
        ),
        title=conversation.title,
        payload=payload,
        replaced=replaced,
        interrupted=interrupted.get(conversation_id, []),
        owner_id=conversation.owner_id,
        tools=tools,
        tool_notes=notes,
    )


def _question_for(conversation: Conversation, mode: AnotherMode, message_id: uuid.UUID | None) -> Message:
    """The question to answer again: the one asked of the shown reply or the shown question named,
    else the last one."""
    if message_id is None:
        previous = last_question(conversation)
        if previous is None:
            raise ReplyRefused("invalid", "There is no question to answer again yet.")
        return previous
    if mode == "edit":
        return branches.shown_message(conversation, message_id, role=Message.Role.USER)
    reply = branches.shown_message(conversation, message_id, role=Message.Role.ASSISTANT)
    if reply.reply_to is None:
        raise ReplyRefused("invalid", "That reply answers no question.")
    return reply.reply_to


def _locked_when_idle(conversation_id: uuid.UUID, is_alive: IsAlive) -> tuple[Conversation, dict[Any, Any]]:
    """The conversation, locked, if no reply of it is being written; and the dead ones marked interrupted."""
    conversation = lock_conversation(conversation_id)
    interrupted, streaming = sweep([conversation_id], is_alive)
    if streaming:
        raise ReplyRefused("busy", BUSY)
    return conversation, interrupted


def _last_reply(conversation: Conversation, reply_id: uuid.UUID, *, refusal: str) -> Message:
    """The shown reply `reply_id`, if nothing is shown after it; else `refusal` is the answer."""
    reply = branches.shown_message(conversation, reply_id, role=Message.Role.ASSISTANT)
    if branches.last_shown(conversation) != reply:
        raise ReplyRefused("invalid", refusal)
    return reply


def continue_reply(*, conversation_id: uuid.UUID, reply_id: uuid.UUID, is_alive: IsAlive) -> StartedReply:
    """Let the last reply, cut short (stopped, interrupted, or at its length limit), go on from where
    its text ends: the same reply streams again, and its new text is appended."""
    with transaction.atomic():
        conversation, interrupted = _locked_when_idle(conversation_id, is_alive)
        reply = _last_reply(conversation, reply_id, refusal="Only the last reply can be continued.")
        if not is_cut_short(reply):
            raise ReplyRefused("invalid", "Only a reply that stopped before its end can be continued.")
        if not reply.content:
            raise ReplyRefused("invalid", "This reply has no text to go on from; regenerate it instead.")
        reply.status, reply.error, reply.done_reason = Message.Status.STREAMING, "", ""
        reply.save(update_fields=["status", "error", "done_reason", "saved_at"])
        conversation.save(update_fields=["updated_at"])
    payload = build_continue_request(conversation, reply)
    tools, notes = chosen_tools(user_id=conversation.owner_id, keys=conversation.tools)
    versions = reply_versions(conversation.pk, {reply.exchange})[reply.exchange]
    return StartedReply(
        user_message=None,
        reply=message_data(reply, version_ids=versions),
        title=conversation.title,
        payload=payload,
        interrupted=interrupted.get(conversation_id, []),
        owner_id=conversation.owner_id,
        tools=tools,
        tool_notes=notes,
    )


def is_cut_short(reply: Message) -> bool:
    """Stopped, interrupted, or ended by Ollama's length limit (num_predict or the context)."""
    return reply.status in (Message.Status.STOPPED, Message.Status.INTERRUPTED) or (
        reply.status == Message.Status.COMPLETE and reply.done_reason == "length"
    )


def resume_with_results(
    *, conversation_id: uuid.UUID, reply_id: uuid.UUID, results: dict[str, str], is_alive: IsAlive
) -> StartedReply:
    """The last reply, which handed its tool calls to the API's client, goes on with the client's
    results: they are kept on the calls, and the model is sent the reply so far with them."""
    with transaction.atomic():
        conversation, interrupted = _locked_when_idle(conversation_id, is_alive)
        reply = _last_reply(conversation, reply_id, refusal="Only the last reply can take tool results.")
        calls = list(reply.tool_calls.order_by("round", "position"))
        waiting = [
            call
            for call in calls
            if call.source == ToolCall.CLIENT and call.status == ToolCall.Status.RUNNING
        ]
        if not waiting or {call.call_id for call in waiting} != set(results):
            raise ReplyRefused("invalid", "The tool results do not answer the calls the reply waits for.")
        for call in waiting:
            call.status, call.result = ToolCall.Status.OK, capped(results[call.call_id])
        ToolCall.objects.bulk_update(waiting, ["status", "result"])
        reply.status, reply.error, reply.done_reason = Message.Status.STREAMING, "", ""
        reply.save(update_fields=["status", "error", "done_reason", "saved_at"])
        conversation.save(update_fields=["updated_at"])
    payload = build_chat_request(conversation, before=reply)
    payload["messages"] += reply_with_tools(reply.content, calls)
    versions = reply_versions(conversation.pk, {reply.exchange})[reply.exchange]
    return StartedReply(
        user_message=None,
        reply=message_data(reply, version_ids=versions, tool_calls=calls),
        title=conversation.title,
        payload=payload,
        interrupted=interrupted.get(conversation_id, []),
        owner_id=conversation.owner_id,
        first_round=max(call.round for call in calls) + 1,
    )
