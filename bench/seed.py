"""The benchmark's data helper, run in its own process with the app's environment.

`python -m bench.seed` reads one JSON command on standard input and prints one
JSON answer on the last line of standard output. Rows go in with bulk inserts
(one executemany per table), so 200,000 messages take seconds. The benchmark
process itself never imports Django.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, timedelta
from typing import Any

MODEL = "llama3.2"


def question(index: int) -> str:
    return f"Question {index}: how would you write a function that merges two sorted lists, and why?"


def answer(index: int) -> str:
    return (
        f"Answer {index}. Walk both lists with **two indices** and take the smaller head each time:\n\n"
        "```python\ndef merge(a, b):\n    i = j = 0\n    out = []\n"
        "    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n"
        "        else:\n            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n```\n\n"
        "- It runs in *linear* time.\n- It is stable: equal items keep their order.\n"
    )


def history(messages: int) -> list[dict[str, str]]:
    """The messages of a seeded conversation, as /api/chat gets them."""
    return [
        {"role": "user", "content": question(i // 2)}
        if i % 2 == 0
        else {"role": "assistant", "content": answer(i // 2)}
        for i in range(messages)
    ]


def _preparer(field: Any, connection: Any) -> Any:
    """Field.get_db_prep_save, with shortcuts for SQLite's UUIDs and datetimes (the bulk of the rows)."""
    from django.db import models

    target = getattr(field, "target_field", field)
    if connection.vendor == "sqlite" and isinstance(target, models.UUIDField):
        return lambda value, connection: value.hex if value is not None else None
    if connection.vendor == "sqlite" and isinstance(field, models.DateTimeField):
        return lambda value, connection: str(value.astimezone(UTC).replace(tzinfo=None))
    return field.get_db_prep_save


def insert_rows(model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT rows with executemany; fields a row leaves out get the model's defaults."""
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.utils import timezone

    connection = connections[DEFAULT_DB_ALIAS]  # the object itself, not the thread-local proxy
    fields = list(model._meta.concrete_fields)
    prototype = model()
    now = timezone.now()
    constant = {}
    for field in fields:
        value = getattr(prototype, field.attname)
        if value is None and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
            value = now
        constant[field.attname] = field.get_db_prep_save(value, connection)
    prepare = {field.attname: _preparer(field, connection) for field in fields}
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    params = []
    for row in rows:
        values = dict(constant)
        for name, value in row.items():
            values[name] = prepare[name](value, connection)
        params.append([values[field.attname] for field in fields])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":  # random UUID keys: keep the indexes in memory while inserting
            cursor.execute("PRAGMA cache_size = -262144")
        for start in range(0, len(params), 5000):
            cursor.executemany(sql, params[start : start + 5000])


def conversations(
    owner: Any, count: int, messages: int, *, start: Any, spacing: timedelta, short: bool = False
):
    """`count` conversations of `messages` messages each (question, answer, question…)."""
    from conversations.models import Conversation, Message

    conversation_rows, message_rows = [], []
    for number in range(count):
        created = start + spacing * number
        conversation_id = uuid.uuid4()
        conversation_rows.append(
            {
                "id": conversation_id,
                "owner_id": owner.pk,
                "title": f"Benchmark chat {number}",
                "model": MODEL,
                "created_at": created,
                "updated_at": created + timedelta(minutes=messages),
            }
        )
        question_id = exchange = None
        for index in range(messages):
            at = created + timedelta(seconds=30 * index)
            row = {"id": uuid.uuid4(), "conversation_id": conversation_id, "created_at": at, "saved_at": at}
            if index % 2 == 0:
                question_id, exchange = row["id"], uuid.uuid4()
                text = question(index // 2)
                row.update(role=Message.Role.USER, content=text[:60] if short else text, exchange=exchange)
            else:
                text = answer(index // 2)
                row.update(
                    role=Message.Role.ASSISTANT,
                    content=text[:200] if short else text,
                    model=MODEL,
                    exchange=exchange,
                    reply_to_id=question_id,
                    done_reason="stop",
                    eval_count=120,
                    eval_duration=1_200_000_000,
                    prompt_eval_count=40,
                )
            message_rows.append(row)
    insert_rows(Conversation, conversation_rows)
    insert_rows(Message, message_rows)
    return [str(row["id"]) for row in conversation_rows]


def seed(params: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    User = get_user_model()
    sessions, users = {}, {}
    for spec in params.get("users", []):
        user = User.objects.filter(username=spec["name"]).first() or User(username=spec["name"])
        user.is_staff = user.is_superuser = bool(spec.get("superuser"))
        user.set_unusable_password()
        user.save()
        client = Client()
        client.force_login(user)
        users[spec["name"]] = user
        sessions[spec["name"]] = client.cookies["sessionid"].value
    sets: dict[str, list[str]] = {}
    histories: dict[str, list[dict[str, str]]] = {}
    start = timezone.now() - timedelta(days=1)
    with transaction.atomic():
        for spec in params.get("sets", []):
            owner = users.get(spec["owner"]) or User.objects.get(username=spec["owner"])
            sets[spec["key"]] = conversations(
                owner, spec["count"], spec["messages"], start=start, spacing=timedelta(seconds=1)
            )
            histories[spec["key"]] = history(spec["messages"])
    from openai_api.keys import create_key

    api_keys = {
        name: create_key(owner_id=users[name].pk, name="bench")[1] for name in params.get("api_keys", [])
    }
    return {"sessions": sessions, "sets": sets, "histories": histories, "api_keys": api_keys}


def bulk(params: dict[str, Any]) -> dict[str, Any]:
    """Many users' conversations, for the admin list: spread over a year, as a real instance has them."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    User = get_user_model()
    started = time.perf_counter()
    total, per = params["conversations"], params["messages"] // max(params["conversations"], 1)
    owners = params.get("owners", 50)
    random.seed(0)
    with transaction.atomic():
        people = [User(username=f"person{number}") for number in range(owners)]
        for person in people:
            person.set_unusable_password()
        User.objects.bulk_create(people)
        people = list(User.objects.filter(username__startswith="person").order_by("pk"))
        year_ago = timezone.now() - timedelta(days=365)
        spacing = timedelta(days=365) / max(total, 1)
        for index, person in enumerate(people):
            count = total // owners + (1 if index < total % owners else 0)
            conversations(
                person, count, per, start=year_ago + spacing * index, spacing=spacing * owners, short=True
            )
    return {"seconds": time.perf_counter() - started}


def admin_queries(params: dict[str, Any]) -> dict[str, Any]:
    """How many queries the admin's conversation list makes (Django's test client, same database)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=params["admin"]))
    client.get("/admin/conversations/conversation/")  # warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/conversations/conversation/")
    return {"status": response.status_code, "queries": len(queries)}


def replies(params: dict[str, Any]) -> dict[str, Any]:
    """The last reply of each conversation: its status and the length of its saved text."""
    from conversations.models import Message

    found = {}
    for message in Message.objects.filter(
        conversation_id__in=params["conversations"], role=Message.Role.ASSISTANT
    ).order_by("created_at"):
        found[str(message.conversation_id)] = [message.status, len(message.content)]
    return {"replies": [found.get(conversation_id) for conversation_id in params["conversations"]]}


COMMANDS = {"seed": seed, "bulk": bulk, "admin_queries": admin_queries, "replies": replies}


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    django.setup()
    params = json.loads(sys.stdin.read())
    answer_ = COMMANDS[params.pop("command")](params)
    print(json.dumps(answer_))


if __name__ == "__main__":
    main()
