"""The Django admin: listing, searching and filtering conversations and messages, and what it may change."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from conversations.models import Conversation, Message
from tests.helpers import signed_in


@pytest.fixture
def operator(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("operator", password="operator-password")


@pytest.mark.django_db
def test_the_admin_list_search_filters_and_detail(operator, alice, bob, conversation):
    Message.objects.create(conversation=conversation, role="user", content="the zebra question")
    Message.objects.create(
        conversation=conversation, role="assistant", content="zebra answer", thinking="hmm"
    )
    Conversation.objects.create(owner=bob, title="Bob's chat", model="qwen3:8b")
    client = signed_in(operator)

    listing = client.get("/admin/conversations/conversation/")
    assert listing.status_code == 200
    rows = {(c.title, c.number_of_messages) for c in listing.context["cl"].result_list}
    assert rows == {("Test chat", 2), ("Bob's chat", 0)}
    searched = client.get("/admin/conversations/conversation/", {"q": "zebra"}).context["cl"].result_list
    assert [c.title for c in searched] == ["Test chat"]
    filtered = (
        client.get("/admin/conversations/conversation/", {"model": "qwen3:8b"}).context["cl"].result_list
    )
    assert [c.title for c in filtered] == ["Bob's chat"]
    by_owner = client.get("/admin/conversations/conversation/", {"owner__id__exact": alice.pk})
    assert [c.title for c in by_owner.context["cl"].result_list] == ["Test chat"]
    detail = client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()
    assert "zebra answer" in detail and "hmm" in detail
    messages = client.get("/admin/conversations/message/", {"role__exact": "assistant"})
    assert [m.content for m in messages.context["cl"].result_list] == ["zebra answer"]
    assert f"/admin/conversations/conversation/{conversation.pk}/change/" in messages.content.decode()


@pytest.mark.django_db
def test_the_admin_list_takes_the_same_queries_for_many_rows(operator, alice, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(operator)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/conversations/conversation/").status_code == 200
        return len(captured)

    Conversation.objects.create(owner=alice, title="one")
    queries()
    few = queries()
    for index in range(60):
        conversation = Conversation.objects.create(owner=alice, title=f"c{index}")
        Message.objects.create(conversation=conversation, role="user", content="x")
    assert queries() == few


@pytest.mark.django_db
def test_the_admin_export_action(operator, conversation):
    Message.objects.create(conversation=conversation, role="user", content="exported text")
    response = signed_in(operator).post(
        "/admin/conversations/conversation/",
        {"action": "export_conversations", "_selected_action": [str(conversation.pk)]},
    )
    data = json.loads(response.content)
    assert data[0]["conversation"]["messages"][0]["content"] == "exported text"


@pytest.mark.django_db
def test_staff_see_conversations_only_with_the_view_permission(alice, conversation):
    from django.contrib.auth.models import Permission

    alice.is_staff = True
    alice.save()
    client = signed_in(alice)
    assert client.get("/admin/conversations/conversation/").status_code == 403
    alice.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    assert client.get("/admin/conversations/conversation/").status_code == 200
    assert client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").status_code == 200


@pytest.mark.django_db
def test_the_admin_searches_by_owner_and_filters_by_model_owner_and_dates(operator, alice, bob):
    def made(owner, title: str, model: str, created: datetime, updated: datetime) -> None:
        conversation = Conversation.objects.create(owner=owner, title=title, model=model)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=created, updated_at=updated)

    now = timezone.now()
    made(alice, "Old llama", "llama3.2", datetime(2020, 6, 15, 12, tzinfo=UTC), now - timedelta(days=30))
    made(alice, "Old qwen", "qwen3:8b", datetime(2021, 6, 15, 12, tzinfo=UTC), now - timedelta(days=3))
    made(bob, "Bob's llama", "llama3.2", datetime(2021, 8, 15, 12, tzinfo=UTC), now - timedelta(days=60))
    Conversation.objects.create(owner=bob, title="Fresh", model="llama3.2")
    client = signed_in(operator)

    def titles(query: str) -> set[str]:
        response = client.get(f"/admin/conversations/conversation/{query}")
        assert response.status_code == 200
        return {c.title for c in response.context["cl"].result_list}

    def links(query: str = "") -> dict[str, str]:
        """The page's filter and date links: where they go, and their text."""
        page = client.get(f"/admin/conversations/conversation/{query}").content.decode()
        found = re.findall(r'<a href="(\?[^"]*)"[^>]*>([^<]+)</a>', page)
        return {html.unescape(href): text.strip() for href, text in found}

    assert titles("?q=bob") == {"Bob's llama", "Fresh"}  # no title or message says "bob"
    assert titles("?q=alice") == {"Old llama", "Old qwen"}
    shown = links()
    by_model = next(href for href, text in shown.items() if text == "qwen3:8b")
    assert titles(by_model) == {"Old qwen"}
    by_owner = next(href for href, text in shown.items() if text == "alice")
    assert titles(by_owner) == {"Old llama", "Old qwen"}
    assert titles(f"?model=llama3.2&owner__id__exact={bob.pk}") == {"Bob's llama", "Fresh"}
    week = [href for href, text in shown.items() if text == "Past 7 days"]
    created_week = next(href for href in week if "created_at__gte" in href)
    updated_week = next(href for href in week if "updated_at__gte" in href)
    assert titles(created_week) == {"Fresh"}
    assert titles(updated_week) == {"Old qwen", "Fresh"}

    # The date hierarchy: years, then a year's months, then a month's days.
    assert {"?created_at__year=2020", "?created_at__year=2021"} <= set(shown)
    assert titles("?created_at__year=2021") == {"Old qwen", "Bob's llama"}
    months = links("?created_at__year=2021")
    assert months["?created_at__month=6&created_at__year=2021"] == "June 2021"
    assert titles("?created_at__month=8&created_at__year=2021") == {"Bob's llama"}
    days = links("?created_at__month=8&created_at__year=2021")
    assert titles(next(href for href, text in days.items() if text == "August 15")) == {"Bob's llama"}


@pytest.mark.django_db
def test_the_admin_message_list_filters_by_status_and_searches_text(operator, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Where is the zebra?")
    Message.objects.create(conversation=conversation, role="assistant", content="Partial", status="stopped")
    Message.objects.create(
        conversation=conversation, role="assistant", content="No zebra here", status="error"
    )
    client = signed_in(operator)

    def contents(**query) -> set[str]:
        response = client.get("/admin/conversations/message/", query)
        assert response.status_code == 200
        return {m.content for m in response.context["cl"].result_list}

    assert contents(status__exact="error") == {"No zebra here"}
    assert contents(status__exact="stopped") == {"Partial"}
    assert contents(q="zebra") == {"Where is the zebra?", "No zebra here"}
    assert contents(q="zebra", status__exact="complete") == {"Where is the zebra?"}
    assert "?status__exact=error" in client.get("/admin/conversations/message/").content.decode()


PROTECTED = {
    "role": "system",
    "status": "error",
    "version": "9",
    "exchange": "00000000-0000-0000-0000-000000000009",
    "format": '"json"',
    "structured": '{"valid": true, "data": 1, "errors": []}',
    "model": "other",
    "error": "made up",
    "done_reason": "length",
    "prompt_eval_count": "1",
    "eval_count": "999",
    "total_duration": "5",
    "load_duration": "5",
    "prompt_eval_duration": "5",
    "eval_duration": "5",
    "created_at_0": "2020-01-01",
    "created_at_1": "00:00:00",
}


def message_record(message: Message) -> tuple:
    message.refresh_from_db()
    return (
        message.conversation_id,
        message.reply_to_id,
        message.role,
        message.status,
        message.version,
        message.active,
        message.exchange,
        message.format,
        message.structured,
        message.model,
        message.error,
        message.done_reason,
        message.prompt_eval_count,
        message.eval_count,
        message.total_duration,
        message.eval_duration,
        message.created_at,
    )


@pytest.mark.django_db
def test_the_admin_edits_only_a_messages_text(operator, alice, conversation):
    question = Message.objects.create(conversation=conversation, role="user", content="Q")
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="rude answer",
        thinking="rude thought",
        reply_to=question,
        format="json",
        structured={"valid": True, "data": 1, "errors": []},
        eval_count=12,
        eval_duration=10**9,
        model="llama3.2",
    )
    other = Conversation.objects.create(owner=alice, title="Other")
    before = message_record(reply)
    client = signed_in(operator)
    url = f"/admin/conversations/message/{reply.pk}/change/"

    page = client.get(url)
    assert set(page.context["adminform"].form.fields) == {"content", "thinking"}
    shown = page.content.decode()
    for name in (*PROTECTED, "conversation", "reply_to", "active"):
        assert f'name="{name}"' not in shown
    assert "rude answer" in shown and "llama3.2" in shown  # the record is shown, read-only

    response = client.post(
        url,
        {
            **PROTECTED,
            "conversation": str(other.pk),
            "reply_to": "",
            "active": "",
            "content": "[removed]",
            "thinking": "",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    assert message_record(reply) == before
    assert (reply.content, reply.thinking) == ("[removed]", "")


@pytest.mark.django_db
def test_the_admin_cannot_touch_a_streaming_reply_or_add_messages(operator, conversation):
    streaming = Message.objects.create(conversation=conversation, role="assistant", status="streaming")
    client = signed_in(operator)

    page = client.get(f"/admin/conversations/message/{streaming.pk}/change/")
    assert page.status_code == 200 and not page.context["adminform"].form.fields

    assert client.get("/admin/conversations/message/add/").status_code == 403
    added = client.post(
        "/admin/conversations/message/add/",
        {
            "conversation": str(conversation.pk),
            "role": "user",
            "content": "forged",
            "images-TOTAL_FORMS": "0",
            "images-INITIAL_FORMS": "0",
        },
    )
    assert added.status_code == 403 and list(Message.objects.all()) == [streaming]
    listing = client.get("/admin/conversations/message/").content.decode()
    assert "/admin/conversations/message/add/" not in listing


def conversation_form(conversation: Conversation, **changes: str) -> dict[str, str]:
    return {
        "title": conversation.title,
        "title_source": conversation.title_source,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "options": json.dumps(conversation.options),
        "keep_alive": conversation.keep_alive,
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
        **changes,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"options": '{"temperature": 9}'}, "options", "temperature: Must be between 0.0 and 2.0."),
        ({"options": '{"colour": "blue"}'}, "options", "colour: Unknown option."),
        ({"options": '{"num_ctx": 100.5}'}, "options", "num_ctx: Must be a whole number."),
        ({"options": "[1, 2]"}, "options", "Must be an object."),
        ({"keep_alive": "a while"}, "keep_alive", "Use seconds (300) or a duration with a unit"),
        ({"model": "no such model!"}, "model", "That is not a valid model name."),
    ],
)
def test_the_admin_checks_conversation_settings_like_the_chat_does(
    operator, conversation, changes, field, message
):
    conversation.options = {"temperature": 0.5}
    conversation.save()
    client = signed_in(operator)
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"

    response = client.post(url, conversation_form(conversation, title="Renamed", **changes))

    assert response.status_code == 200
    assert message in response.context["adminform"].form.errors[field][0]
    assert message in response.content.decode()
    conversation.refresh_from_db()
    assert (conversation.title, conversation.options) == ("Test chat", {"temperature": 0.5})


@pytest.mark.django_db
def test_the_admin_saves_settings_in_the_form_the_chat_uses(operator, conversation):
    client = signed_in(operator)
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"
    changes = {
        "options": '{"temperature": "0.7", "top_k": 40.0, "stop": "END\\nSTOP", "seed": ""}',
        "keep_alive": " 5m ",
        "model": "qwen3:8b",
    }

    assert client.post(url, conversation_form(conversation, **changes)).status_code == 302

    conversation.refresh_from_db()
    assert conversation.options == {"temperature": 0.7, "top_k": 40, "stop": ["END", "STOP"]}
    assert (conversation.keep_alive, conversation.model) == ("5m", "qwen3:8b")


HOSTILE_JSON = [
    ('{"temperature": NaN}', "NaN"),
    ('{"a": "\\u0000"}', "NUL character"),
    ('{"a": "\\ud800"}', "lone surrogate"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "named"), HOSTILE_JSON)
def test_the_admin_refuses_unstorable_json_with_a_form_error(operator, alice, conversation, value, named):
    from conversations.models import Preferences, SavedSchema

    client = signed_in(operator)
    preferences = Preferences.objects.create(user=alice)
    schema = SavedSchema.objects.create(owner=alice, name="s", schema={"type": "string"})
    forms = [
        (
            f"/admin/conversations/conversation/{conversation.pk}/change/",
            conversation_form(conversation, options=value),
        ),
        (
            f"/admin/conversations/preferences/{preferences.pk}/change/",
            {"user": alice.pk, "model": "", "system_prompt": "", "options": value, "keep_alive": ""},
        ),
        (
            f"/admin/conversations/savedschema/{schema.pk}/change/",
            {"owner": alice.pk, "name": "s", "schema": value},
        ),
    ]
    for url, form in forms:
        response = client.post(url, form)
        assert response.status_code == 200, url
        assert named in response.content.decode(), url
    preferences.refresh_from_db()
    schema.refresh_from_db()
    assert preferences.options == {} and schema.schema == {"type": "string"}


@pytest.mark.django_db
def test_the_admin_checks_saved_schemas_and_preferences_like_the_chat_does(operator, alice):
    from conversations.models import Preferences, SavedSchema

    client = signed_in(operator)
    preferences = Preferences.objects.create(user=alice)
    schema = SavedSchema.objects.create(owner=alice, name="s", schema={"type": "string"})

    response = client.post(
        f"/admin/conversations/preferences/{preferences.pk}/change/",
        {"user": alice.pk, "model": "", "system_prompt": "", "options": "{}", "keep_alive": "1e308"},
    )
    assert response.status_code == 200 and "Use seconds (300)" in response.content.decode()
    response = client.post(
        f"/admin/conversations/savedschema/{schema.pk}/change/",
        {"owner": alice.pk, "name": "s", "schema": '{"type": "no-such-type"}'},
    )
    assert response.status_code == 200 and "The schema is not valid" in response.content.decode()


@pytest.mark.django_db
def test_the_admin_search_reads_message_text_with_no_query_per_row(operator, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(operator)

    def search(query: str) -> tuple[list[str], int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/admin/conversations/conversation/", {"q": query})
        assert response.status_code == 200
        return [c.title for c in response.context["cl"].result_list], len(captured)

    first = Conversation.objects.create(owner=alice, title="Holiday plans")
    for text in ("the Okapi question", "okapi again", "and an okapi once more"):
        Message.objects.create(conversation=first, role="user", content=text)
    Conversation.objects.create(owner=alice, title="Okapi facts")
    search("okapi")  # the first request also reads what is cached afterwards
    found, few = search("okapi")
    assert sorted(found) == ["Holiday plans", "Okapi facts"]  # by text and by title, each once

    for index in range(40):
        many = Conversation.objects.create(owner=alice, title=f"Zoo {index}")
        for turn in range(3):
            Message.objects.create(conversation=many, role="user", content=f"okapi {turn}")
    found, more = search("okapi")
    assert len(found) == 42 and len(set(found)) == 42
    assert more == few


@pytest.mark.django_db
def test_images_have_their_own_admin_list_shown_through_the_admins_routes(operator, alice, conversation):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.models import Image
    from tests.helpers import png

    def upload(color: str) -> Image:
        answer = signed_in(alice).post("/images/", {"file": SimpleUploadedFile(f"{color}.png", png(color))})
        return Image.objects.get(pk=answer.json()["id"])

    question = Message.objects.create(conversation=conversation, role="user", content="Colour?")
    sent = upload("red")
    Image.objects.filter(pk=sent.pk).update(message=question)
    unsent = upload("blue")
    client = signed_in(operator)

    page = client.get("/admin/conversations/image/")

    assert page.status_code == 200
    body = page.content.decode()
    assert {image.pk for image in page.context["cl"].result_list} == {sent.pk, unsent.pk}
    assert f"/admin/conversations/conversation/images/{sent.pk}/thumbnail/" in body
    assert f"/admin/conversations/conversation/{conversation.pk}/change/" in body and "Test chat" in body
    assert "not sent yet" in body and "alice" in body
    assert f'src="/images/{sent.pk}' not in body and "/media/" not in body  # never a public path
    thumbnail = client.get(f"/admin/conversations/conversation/images/{sent.pk}/thumbnail/")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    assert b"".join(thumbnail.streaming_content)[:4] == b"RIFF"  # read to its end, which closes the file

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/conversations/image/").status_code == 200
        return len(captured)

    few = queries()
    for color in ("green", "yellow", "white", "black", "purple"):
        Image.objects.filter(pk=upload(color).pk).update(message=question)
    assert queries() == few


@pytest.mark.django_db
def test_the_image_list_is_for_staff_with_the_view_permission_only(alice, admin):
    assert signed_in(alice).get("/admin/conversations/image/").status_code == 302
    assert signed_in(admin).get("/admin/conversations/image/").status_code == 403
