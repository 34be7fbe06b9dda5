"""A conversation as a tree of branches: which path is shown, switching versions, deleting an exchange.

Each message has a `parent` (the message it follows) and a `chosen` flag (the
one of its siblings shown last); `active` marks the path shown now, which is
what the page lists and what is replayed to Ollama. Along a path each message
is newer than its parent, so the shown path in (created_at, id) order is the
path in order. Plain synchronous functions, called inside a transaction that
holds the conversation's lock.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from conversations.chat.replies import BUSY, ReplyRefused, lock_conversation, streaming_reply_id
from conversations.models import Conversation, Message

NOT_SHOWN = "That message is not shown in this conversation."


def at_or_after(message: Message) -> Q:
    """Messages from `message` on, in the page's order (time, then id)."""
    return Q(created_at__gt=message.created_at) | Q(created_at=message.created_at, id__gte=message.pk)


def last_shown(conversation: Conversation) -> Message | None:
    return conversation.messages.filter(active=True).order_by("-created_at", "-id").first()


def shown_message(conversation: Conversation, message_id: uuid.UUID, *, role: str | None = None) -> Message:
    """A message of the conversation on the path shown now, or ReplyRefused("invalid")."""
    found = conversation.messages.filter(pk=message_id, active=True)
    if role is not None:
        found = found.filter(role=role)
    message = found.first()
    if message is None:
        raise ReplyRefused("invalid", NOT_SHOWN)
    return message


def hide_from(conversation: Conversation, message: Message) -> list[str]:
    """Stop showing `message` and everything after it; the ids no longer shown."""
    hidden = conversation.messages.filter(at_or_after(message), active=True)
    ids = [str(pk) for pk in hidden.values_list("pk", flat=True)]
    hidden.update(active=False)
    return ids


def choose(message: Message) -> None:
    """Make `message` the chosen one among the versions beside it (same exchange, role and parent)."""
    Message.objects.filter(
        conversation_id=message.conversation_id,
        exchange=message.exchange,
        role=message.role,
        parent_id=message.parent_id,
    ).exclude(pk=message.pk).update(chosen=False)
    if not message.chosen:
        Message.objects.filter(pk=message.pk).update(chosen=True)
        message.chosen = True


def chosen_path(message: Message) -> list[uuid.UUID]:
    """The ids below `message` that were shown last: its chosen child, that one's, and so on.

    One query for the part of the conversation that can follow it. Where no
    child (or more than one) is marked chosen, the newest one is followed.
    """
    rows = Message.objects.filter(
        Q(created_at__gte=message.created_at), conversation_id=message.conversation_id
    ).values_list("id", "parent_id", "chosen", "created_at")
    children: dict[uuid.UUID, list[tuple[bool, object, uuid.UUID]]] = defaultdict(list)
    for pk, parent_id, chosen, created_at in rows:
        if parent_id is not None:
            children[parent_id].append((chosen, created_at, pk))
    path, node = [], message.pk
    while children.get(node):
        node = max(children[node], key=lambda child: (child[0], child[1], child[2]))[2]
        path.append(node)
    return path


def switch_version(*, conversation_id: uuid.UUID, reply_id: uuid.UUID) -> None:
    """Show another version of an exchange that is shown: that reply, its question, and what
    followed that reply when it was last shown."""
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        if streaming_reply_id(conversation_id=conversation_id) is not None:
            raise ReplyRefused("busy", BUSY)
        target = (
            conversation.messages.filter(pk=reply_id, role=Message.Role.ASSISTANT)
            .select_related("reply_to")
            .first()
        )
        shown_question = (
            target
            and conversation.messages.filter(
                exchange=target.exchange, role=Message.Role.USER, active=True
            ).first()
        )
        if target is None or target.reply_to is None or shown_question is None:
            raise ReplyRefused("invalid", "Only the versions of a reply that is shown can be switched.")
        hide_from(conversation, shown_question)
        question = target.reply_to
        choose(question)
        choose(target)
        shown = [question.pk, target.pk, *chosen_path(target)]
        conversation.messages.filter(pk__in=shown).update(active=True)


def delete_exchange(*, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """Delete a shown question and its replies, with every version of them and the branches that
    start from those versions; what followed in the shown branch moves up to take their place."""
    with transaction.atomic():
        conversation = lock_conversation(conversation_id)
        if streaming_reply_id(conversation_id=conversation_id) is not None:
            raise ReplyRefused("busy", BUSY)
        message = shown_message(conversation, message_id)
        exchange = conversation.messages.filter(exchange=message.exchange)
        question = exchange.filter(role=Message.Role.USER, active=True).first()
        reply = exchange.filter(role=Message.Role.ASSISTANT, active=True).first()
        if reply is not None and question is not None:
            # The questions that followed the shown reply (the next exchange's versions).
            Message.objects.filter(parent=reply).update(parent_id=question.parent_id)
        # The cascade on `parent` takes the branches hanging from the other versions.
        exchange.delete()
