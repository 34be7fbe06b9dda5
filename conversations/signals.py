"""Signal receivers: an image's files go with its row; SQLite connections and its WAL."""

import sqlite3

from django.core.signals import request_finished
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete
from django.dispatch import receiver

from conversations.images import delete_files
from conversations.models import Image


@receiver(post_delete, sender=Image)
def remove_image_files(sender: type[Image], instance: Image, **kwargs: object) -> None:
    delete_files(instance)


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
