"""Structured output: the schema is checked, sent as `format`, and the reply judged and shown as a form."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.test import Client

from conversations.models import Message, SavedSchema
from conversations.structured.form import render_form
from conversations.structured.formats import SchemaRejected, check_format, evaluate
from tests.helpers import error_message, open_socket, receive_until, send

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "description": "Full name"},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
    },
    "required": ["name", "age"],
}


# Checking the schema ---------------------------------------------------------


def test_a_valid_schema_and_json_mode_pass():
    assert check_format(PERSON) == PERSON
    assert check_format("json") == "json"
    assert check_format(None) is None
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    assert check_format(draft7) == draft7


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("xml", 'must be "json" or a JSON Schema object'),
        ('{"type": "object"}', 'must be "json" or a JSON Schema object'),
        ({"type": "objekt"}, "The schema is not valid at $.type: 'objekt' is not valid"),
        (
            {"properties": {"age": {"minimum": "zero"}}},
            "at $.properties.age.minimum: 'zero' is not of type 'number'",
        ),
        (
            {"$schema": "http://json-schema.org/draft-04/schema#"},
            "Only JSON Schema Draft 2020-12 and Draft 7",
        ),
        (
            {"$schema": "https://example.com/my-own-draft", "type": "object"},
            "Only JSON Schema Draft 2020-12 and Draft 7 are supported; "
            "this schema declares 'https://example.com/my-own-draft'.",
        ),
        ({"$schema": 7}, "Only JSON Schema Draft 2020-12 and Draft 7"),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            "The schema refers to '#/$defs/missing', which it does not define.",
        ),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "items": {"$ref": "#/definitions/gone"},
                "definitions": {"here": {}},
            },
            "The schema refers to '#/definitions/gone'",
        ),
        (json.loads('{"items": ' * 300 + "{}" + "}" * 300), "The schema is nested too deeply"),
    ],
)
def test_an_invalid_schema_is_rejected_with_where_and_why(value, message):
    with pytest.raises(SchemaRejected) as caught:
        check_format(value)
    assert message in caught.value.message


def test_both_drafts_and_references_inside_the_schema_are_accepted():
    for draft in (
        "https://json-schema.org/draft/2020-12/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-07/schema",
    ):
        assert check_format({"$schema": draft, "type": "object"})["$schema"] == draft
    linked = {
        "type": "object",
        "properties": {"owner": {"$ref": "#/$defs/person"}, "self": {"$ref": "#"}, "tag": {"$ref": "#tag"}},
        "$defs": {"person": PERSON, "tag": {"$anchor": "tag", "type": "string"}},
    }
    assert check_format(linked) == linked
    assert evaluate('{"owner": {"name": "Ada", "age": -1}, "tag": 5}', linked)["errors"] == [
        {"path": "$.owner.age", "message": "-1 is less than the minimum of 0"},
        {"path": "$.tag", "message": "5 is not of type 'string'"},
    ]


# Judging the reply -----------------------------------------------------------


def test_a_conforming_reply_is_valid():
    assert evaluate('{"name": "Ada", "age": 36}', PERSON) == {
        "valid": True,
        "data": {"name": "Ada", "age": 36},
        "errors": [],
    }


def test_a_reply_that_is_not_json_reports_where():
    result = evaluate('{"name": "Ada",', PERSON)  # cut short, as a reply that hit its token limit
    assert result["valid"] is False and result["data"] is None
    assert result["errors"][0]["path"] == "$"
    assert result["errors"][0]["message"] == ("The reply is not valid JSON (it ends too early).")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "The reply is nested too deeply (the limit is 128 levels)."),
        ('{"a": NaN}', "The reply holds NaN, which is not a number JSON allows."),
        ('{"a": 1e400}', "The reply holds a number out of range (inf) at $.a."),
        ('{"a": "\\u0000"}', "The reply contains a NUL character at $.a."),
        ('{"a": "\\ud800"}', "The reply contains a lone surrogate (text that is not valid Unicode) at $.a."),
    ],
)
def test_a_reply_the_database_could_not_store_is_reported_not_raised(content, expected):
    result = evaluate(content, "json")
    assert result == {"valid": False, "data": None, "errors": [{"path": "$", "message": expected}]}


def test_a_non_conforming_reply_lists_each_error_with_its_path():
    result = evaluate('{"age": -1, "email": 5}', PERSON)
    assert result["valid"] is False
    assert result["data"] == {"age": -1, "email": 5}
    assert {(e["path"], e["message"]) for e in result["errors"]} == {
        ("$", "'name' is a required property"),
        ("$.age", "-1 is less than the minimum of 0"),
        ("$.email", "5 is not of type 'string'"),
    }


def test_a_schema_that_cannot_be_applied_is_an_error_of_the_reply_not_a_crash():
    # Saved before the schema check refused such schemas.
    unresolvable = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    result = evaluate('{"a": 1}', unresolvable)
    assert result["valid"] is False and result["data"] == {"a": 1}
    assert result["errors"] == [
        {
            "path": "$",
            "message": "The schema could not be applied: The schema refers to '#/$defs/missing', "
            "which it does not define. A $ref must point inside the schema, e.g. #/$defs/name.",
        }
    ]
    unknown_draft = evaluate("{}", {"$schema": "https://example.com/x"})
    assert (
        unknown_draft["valid"] is False
        and "Draft 2020-12 and Draft 7" in unknown_draft["errors"][0]["message"]
    )


def test_a_reference_to_another_address_is_refused_and_never_fetched(ollama):
    schema = {"type": "object", "properties": {"a": {"$ref": f"{ollama.url}/person.json"}}}
    with pytest.raises(SchemaRejected) as caught:
        check_format(schema)
    assert f"refers to '{ollama.url}/person.json'" in caught.value.message

    result = evaluate('{"a": 1}', schema)

    assert result["valid"] is False and "could not be applied" in result["errors"][0]["message"]
    assert ollama.requests_to("/person.json") == []


# The form --------------------------------------------------------------------


class Fields(HTMLParser):
    """Labels and the values of the controls they point at, as a browser would pair them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.required: set[str] = set()  # labels that carry the required mark
        self.controls: dict[str, dict] = {}
        self.legends: list[str] = []
        self._marked = False
        self._capture: tuple[str, str] | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self._capture, self._text, self._marked = ("label", attrs["for"]), [], False
        elif tag == "span" and attrs.get("class") == "sf-required" and self._capture:
            self._marked = self._capture[0] == "label"
        elif tag == "legend":
            self._capture, self._text = ("legend", ""), []
        elif tag in ("input", "select", "textarea", "output"):
            self.controls[attrs["id"]] = {"tag": tag, **attrs, "text": ""}
            if tag in ("textarea", "output"):
                self._capture, self._text = ("text", attrs["id"]), []
        elif tag == "option" and "selected" in attrs:
            self._capture, self._text = ("option", list(self.controls)[-1]), []

    def handle_data(self, data):
        if self._capture:
            self._text.append(data)

    def handle_endtag(self, tag):
        if not self._capture:
            return
        kind, key = self._capture
        text = "".join(self._text).strip()
        if kind == "label" and tag == "label":
            self.labels[text.rstrip(" *")] = key
            if self._marked:
                self.required.add(text.rstrip(" *"))
        elif kind == "legend" and tag == "legend":
            self.legends.append(text)
        elif kind == "text" and tag in ("textarea", "output"):
            self.controls[key]["text"] = text
        elif kind == "option" and tag == "option":
            self.controls[key]["selected"] = text
        else:
            return
        self._capture = None

    def value(self, label: str):
        control = self.controls[self.labels[label]]
        if control["tag"] == "select":
            return control["selected"]
        if control.get("type") == "checkbox":
            return "checked" in control
        if control["tag"] in ("textarea", "output"):
            return control["text"]
        return control["value"]


TASKS = {
    "type": "object",
    "title": "Plan",
    "properties": {
        "owner": {"$ref": "#/$defs/person"},
        "tasks": {
            "type": "array",
            "title": "Tasks",
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "priority": {"enum": ["low", "medium", "high"]},
                    "done": {"type": "boolean"},
                    "note": {"type": "string"},
                },
                "required": ["title", "priority"],
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    },
    "$defs": {"person": {"type": "object", "title": "Owner", "properties": {"name": {"type": "string"}}}},
}


def test_the_form_shows_nested_objects_arrays_enums_booleans_and_missing_fields():
    data = {
        "owner": {"name": "Ada"},
        "tasks": [
            {"title": "Write tests", "priority": "high", "done": True},
            {"title": "Ship", "priority": "low", "done": False, "note": "Friday"},
        ],
        "tags": [],
        "extra": 7,
    }
    html = str(render_form(TASKS, data, id_prefix="m1"))
    form = Fields(html)

    assert form.legends == ["Owner", "Tasks (2)", "Tasks #1", "Tasks #2", "Tags (0)"]
    assert form.value("Name") == "Ada"
    titles = [c["value"] for c in form.controls.values() if c["id"].endswith("-title")]
    assert titles == ["Write tests", "Ship"]
    priorities = [c["selected"] for c in form.controls.values() if c["id"].endswith("-priority")]
    assert priorities == ["high", "low"]
    checkboxes = [("checked" in c) for c in form.controls.values() if c["id"].endswith("-done")]
    assert checkboxes == [True, False]
    missing_note, note = [c for c in form.controls.values() if c["id"].endswith("-note")]
    assert (missing_note["tag"], missing_note["text"]) == ("output", "Not provided")
    assert (note["tag"], note["value"]) == ("input", "Friday")
    assert form.required == {"Title", "Priority"}  # the tasks' required fields, and only those
    assert form.value("Extra") == "7"  # oneOf is shown raw, not dropped
    assert len(set(form.controls)) == len(form.controls)  # ids are unique


def test_the_form_labels_help_and_values_are_escaped():
    schema = {"type": "object", "properties": {"bio": {"type": "string", "description": "<b>help</b>"}}}
    html = str(render_form(schema, {"bio": '"><script>alert(1)</script>'}, id_prefix="m2"))
    assert "<script>" not in html and "<b>" not in html
    assert Fields(html).value("Bio") == '"><script>alert(1)</script>'


def test_an_enum_with_a_declared_type_is_a_select_with_the_value_chosen():
    schema = {
        "type": "object",
        "properties": {
            "level": {"type": "string", "enum": ["low", "high"]},
            "stars": {"type": ["integer", "null"], "enum": [1, 2, 3, None]},
            "flag": {"type": "integer", "enum": [0, 1]},
        },
    }
    html = str(render_form(schema, {"level": "high", "stars": 2, "flag": True}, id_prefix="m5"))
    form = Fields(html)

    level = form.controls[form.labels["Level"]]
    assert level["tag"] == "select" and form.value("Level") == "high"
    assert "<option>low</option><option selected>high</option>" in html
    assert form.controls[form.labels["Stars"]]["tag"] == "select" and form.value("Stars") == "2"
    assert form.value("Flag") == "true"  # true is not 1: shown as it is, not as a choice


def test_only_required_fields_carry_the_required_mark():
    form = Fields(str(render_form(PERSON, {"name": "Ada", "age": 36}, id_prefix="m6")))

    assert set(form.labels) == {"Name", "Age", "Email"}
    assert form.required == {"Name", "Age"}
    assert form.controls[form.labels["Email"]]["text"] == "Not provided"


def test_a_deeply_nested_reply_is_shown_without_crashing():
    tree = {"type": "array", "title": "Tree", "items": {"$ref": "#"}}
    deep = json.loads("[" * 900 + "]" * 900)

    html = str(render_form(tree, deep, id_prefix="m7"))

    assert html.count("<fieldset") == 20  # then the rest as raw JSON
    assert "sf-raw" in html


def test_a_value_of_the_wrong_type_is_shown_raw():
    html = str(render_form(PERSON, {"name": "Ada", "age": "old"}, id_prefix="m3"))
    assert Fields(html).value("Age") == '"old"'


# Through the socket and the fake Ollama ---------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_schema_is_sent_as_format_and_the_reply_is_judged(ollama, alice, conversation):
    ollama.enqueue_chat('{"name": ', '"Ada", "age": 36}')
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Invent a person", format=PERSON)
    frames = await receive_until(socket, "done")

    assert ollama.chat_requests()[-1].json["format"] == PERSON
    reply = frames[-1]["message"]
    assert reply["format"] == PERSON
    assert reply["structured"] == {"valid": True, "data": {"name": "Ada", "age": 36}, "errors": []}
    assert Fields(reply["structured_html"]).value("Name") == "Ada"
    saved = await Message.objects.aget(pk=reply["id"])
    assert saved.structured["valid"] is True and saved.format == PERSON

    ollama.enqueue_chat("Plain answer")
    await send(socket, type="chat", content="And now in prose?")
    await receive_until(socket, "done")
    follow_up = ollama.chat_requests()[-1].json
    assert "format" not in follow_up
    assert follow_up["messages"][1] == {"role": "assistant", "content": '{"name": "Ada", "age": 36}'}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_non_conforming_reply_is_saved_with_its_errors(ollama, alice, conversation):
    ollama.enqueue_chat('{"age": "old"}')
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Invent a person", format=PERSON)
    reply = (await receive_until(socket, "done"))[-1]["message"]

    assert reply["status"] == "complete"
    assert reply["structured"]["valid"] is False
    assert {e["path"] for e in reply["structured"]["errors"]} == {"$", "$.age"}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_json_mode_sends_format_json(ollama, alice, conversation):
    ollama.enqueue_chat("[1, 2]")
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Numbers", format="json")
    reply = (await receive_until(socket, "done"))[-1]["message"]

    assert ollama.chat_requests()[-1].json["format"] == "json"
    assert reply["structured"] == {"valid": True, "data": [1, 2], "errors": []}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_invalid_schema_is_refused_and_nothing_is_sent(ollama, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="Invent", format={"type": "objekt"})
    frame = await socket.receive_json_from(timeout=5)

    assert frame["code"] == "invalid_schema" and "$.type" in frame["message"]
    assert ollama.chat_requests() == [] and not await Message.objects.aexists()
    await socket.disconnect()


# The per-user library --------------------------------------------------------


@pytest.mark.django_db
def test_schemas_are_saved_listed_replaced_and_deleted_per_user(alice, bob):
    client, other = Client(), Client()
    client.force_login(alice)
    other.force_login(bob)

    def post(c, body):
        return c.post("/schemas/", json.dumps(body), content_type="application/json")

    created = post(client, {"name": "Person", "schema": PERSON})
    assert created.status_code == 201
    assert post(client, {"name": "Person", "schema": {"type": "object"}}).status_code == 200
    assert client.get("/schemas/").json()["schemas"] == [
        {"id": created.json()["id"], "name": "Person", "schema": {"type": "object"}}
    ]
    assert other.get("/schemas/").json() == {"schemas": []}
    assert other.post(f"/schemas/{created.json()['id']}/delete/").status_code == 404
    assert client.post(f"/schemas/{created.json()['id']}/delete/").status_code == 204
    assert not SavedSchema.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "schema": PERSON},
        {"name": "x", "schema": "json"},
        {"name": "x", "schema": {"type": 5}},
        ["x"],
    ],
)
def test_bad_schemas_are_not_saved(alice, body):
    client = Client()
    client.force_login(alice)
    response = client.post("/schemas/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and error_message(response)
    assert not SavedSchema.objects.exists()


@pytest.mark.django_db
def test_the_admin_shows_the_schema_result(alice, conversation):
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        content='{"name": "Ada", "age": 36}',
        format=PERSON,
        structured=evaluate('{"name": "Ada", "age": 36}', PERSON),
    )
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client = Client()
    client.force_login(alice)
    page = client.get(f"/admin/conversations/message/{reply.pk}/change/").content.decode()
    assert "<strong>Valid</strong>" in page and 'value="Ada"' in page
