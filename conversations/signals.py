"""Signal receivers: an image's files go with its row; a deleted conversation's reply stops and its
tabs are told; a user's sockets check their session when it ends or the account changes; SQLite
connections and its WAL."""

import sqlite3
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.core.signals import request_finished
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from conversations.chat import events
from conversations.images import delete_files
from conversations.models import Conversation, Image
from conversations.sockets import user_group


@receiver(post_delete, sender=Image)
def remove_image_files(sender: type[Image], instance: Image, **kwargs: object) -> None:
    delete_files(instance)


@receiver(post_delete, sender=Conversation)
def end_deleted_conversation(sender: type[Conversation], instance: Conversation, **kwargs: object) -> None:
    """However it is deleted (the page, the admin, with its owner): its reply stops, its tabs hear of it."""
    conversation_id = instance.pk
    transaction.on_commit(lambda: async_to_sync(_end_conversation)(conversation_id))


async def _end_conversation(conversation_id: uuid.UUID) -> None:
    await events.request_stop(conversation_id)
    await events.publish_deleted(conversation_id)


@receiver(user_logged_out)
def check_sockets_after_sign_out(sender: object, request: Any, user: Any, **kwargs: object) -> None:
    if user is not None:
        # Django sends this signal before it flushes the session: flushed here first, a socket
        # that checks finds it gone instead of racing the flush (Django's own is then a no-op).
        session = getattr(request, "session", None)
        if session is not None:
            session.flush()
        _check_sockets(user.pk)


@receiver(post_save, sender=get_user_model())
def check_sockets_after_account_change(
    sender: object, instance: Any, created: bool, update_fields: frozenset[str] | None, **kwargs: object
) -> None:
    """Deactivated, demoted, or a new password (which ends the other sessions): sockets check again.
    A sign-in only stamps last_login, which changes nothing for them."""
    if not created and update_fields != frozenset({"last_login"}):
        _check_sockets(instance.pk)


@receiver(post_delete, sender=get_user_model())
def check_sockets_after_account_deletion(sender: object, instance: Any, **kwargs: object) -> None:
    _check_sockets(instance.pk)


def _check_sockets(user_id: int) -> None:
    """Every socket of the user checks, after the change is committed, that its session still
    signs that user in, with what rights (socket_base.JsonSocket.current_user)."""
    group = user_group(user_id)
    transaction.on_commit(
        lambda: async_to_sync(get_channel_layer().group_send)(group, {"type": "auth.changed"})
    )


@receiver(request_finished)
def close_request_connections(sender: object, **kwargs: object) -> None:
    """SQLite connections are kept (settings._database), but a request's thread ends with it."""
    for connection in connections.all(initialized_only=True):
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            connection.close()


# Request threads close their connections when they end. With SQLite in WAL
# mode, closing the *last* connection checkpoints and deletes the WAL, with
# several fsyncs. One idle connection per database file, held for
# the life of the process, keeps the WAL in place; ordinary autocheckpoints go on.
_sqlite_anchors: dict[str, sqlite3.Connection] = {}


@receiver(connection_created)
def keep_sqlite_wal_open(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name in _sqlite_anchors or connection.is_in_memory_db():
        return
    _sqlite_anchors[name] = sqlite3.connect(name, check_same_thread=False)
