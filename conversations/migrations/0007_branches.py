"""Messages form a tree (parent, chosen); existing conversations become one branch each."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 500


def link_existing(apps, schema_editor):
    """Each shown message follows the one shown before it; a hidden reply follows its question,
    and a hidden question (an earlier edit) shares the parent of the shown version of its exchange."""
    Message = apps.get_model("conversations", "Message")
    rows = Message.objects.order_by("conversation_id", "created_at", "id").values_list(
        "id", "conversation_id", "role", "active", "exchange", "reply_to_id"
    )
    changed = []
    conversation, last_shown = None, None
    shown_question_parent = {}  # exchange -> parent of its shown question
    hidden_questions = []  # (id, exchange, parent if none is shown)
    pending = {}

    def flush_hidden():
        for pk, exchange, fallback in hidden_questions:
            pending[pk] = shown_question_parent.get(exchange, fallback)
        hidden_questions.clear()

    for pk, conversation_id, role, active, exchange, reply_to_id in rows.iterator(chunk_size=2000):
        if conversation_id != conversation:
            flush_hidden()
            conversation, last_shown = conversation_id, None
            shown_question_parent.clear()
        if active:
            pending[pk] = last_shown
            if role == "user":
                shown_question_parent[exchange] = last_shown
            last_shown = pk
        elif role == "assistant" and reply_to_id is not None:
            pending[pk] = reply_to_id
        elif role == "user":
            hidden_questions.append((pk, exchange, last_shown))
        else:
            pending[pk] = last_shown
    flush_hidden()
    for pk, parent in pending.items():
        if parent is not None:
            changed.append(Message(pk=pk, parent_id=parent))
    Message.objects.bulk_update(changed, ["parent"], batch_size=BATCH)
    Message.objects.filter(active=False).update(chosen=False)


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0006_api"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="conversations.message",
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="chosen",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(link_existing, migrations.RunPython.noop),
    ]
