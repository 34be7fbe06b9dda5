"""Trigram indexes so searching message text stays fast on PostgreSQL.

Django's icontains becomes UPPER(column) LIKE UPPER('%…%'), which no b-tree
index helps; a pg_trgm GIN index on UPPER(column) does. SQLite has no such
index and scans (about 0.1 s for 200,000 messages). If the extension cannot
be installed (no privilege), search still works, only slower.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    "message_content_trgm": ("conversations_message", "content"),
    "conversation_title_trgm": ("conversations_conversation", "title"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            for name, (table, column) in INDEXES.items():
                schema_editor.execute(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (UPPER({column}) gin_trgm_ops)"
                )
    except DatabaseError as exc:
        logger.warning("Search indexes not created (%s); searching will scan instead.", exc)


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
