"""Patterns in users' schemas run on RE2: a backtracking one stalls nobody; what RE2 cannot run is refused."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from conversations.models import Conversation, Message, SavedSchema
from conversations.structured.formats import SchemaRejected, check_format, evaluate
from tests.helpers import error_message, open_socket, post_json, receive_until, send, signed_in

# Python's re tries every way of splitting the a's between the groups before it gives up.
EVIL = "^(a+)+$"
EVIL_TEXT = "a" * 5000 + "!"
CODE = {"type": "object", "properties": {"code": {"type": "string", "pattern": EVIL}}}

# Generous: these wait for frames, they do not measure speed.
PATIENT = 60


@pytest.mark.django_db(transaction=True)
async def test_a_backtracking_pattern_stalls_neither_the_reply_nor_another_user(
    ollama, alice, bob, conversation
):
    bobs = await Conversation.objects.acreate(owner=bob, model="llama3.2", title="Bob's")
    ollama.enqueue_chat(json.dumps({"code": EVIL_TEXT}))
    alices_socket = await open_socket(alice, conversation.pk)
    bobs_socket = await open_socket(bob, bobs.pk)

    await send(alices_socket, type="chat", content="A code, please", format=CODE)
    await send(bobs_socket, type="ping")
    assert await bobs_socket.receive_json_from(timeout=PATIENT) == {"type": "pong"}
    reply = (await receive_until(alices_socket, "done", timeout=PATIENT))[-1]["message"]

    assert reply["status"] == "complete"
    assert reply["structured"]["valid"] is False
    assert reply["structured"]["data"] == {"code": EVIL_TEXT}
    [error] = reply["structured"]["errors"]
    assert error["path"] == "$.code" and "does not match '^(a+)+$'" in error["message"]
    await send(bobs_socket, type="ping")
    assert await bobs_socket.receive_json_from(timeout=PATIENT) == {"type": "pong"}
    await alices_socket.disconnect()
    await bobs_socket.disconnect()


# What RE2 cannot run, or cannot run within the limits, is refused -------------

LOOKAHEAD = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(?=A)[A-Z]+$"}}}
BACKREFERENCE = {"type": "string", "pattern": r"^(a)\1$"}
TOO_LONG = {"type": "string", "pattern": "a" * 1001}
TOO_MANY = {"allOf": [{"pattern": f"^{number}$"} for number in range(201)]}
REFUSED = [
    (
        LOOKAHEAD,
        "The pattern '^(?=A)[A-Z]+$' at $.properties.code.pattern cannot be used: invalid perl operator: (?=",
    ),
    (BACKREFERENCE, r"The pattern '^(a)\\1$' at $.pattern cannot be used: invalid escape sequence: \1"),
    (TOO_LONG, "at $.pattern cannot be used: it is 1,001 characters long (the limit is 1,000)."),
    (TOO_MANY, "The schema holds 201 patterns (pattern and patternProperties keys); the limit is 200."),
]
REFUSED_IDS = ["lookahead", "backreference", "too-long", "too-many"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        *REFUSED,
        (
            {"patternProperties": {"^(?!x-)": {}}},
            "The pattern '^(?!x-)' at $.patternProperties cannot be used",
        ),
        (
            {"properties": {"a": {"pattern": "[\\p{L} ]{1,200}"}}},
            "at $.properties.a.pattern cannot be used: it is too large for RE2",
        ),
        (
            {"anyOf": [{"pattern": "^[\\p{L} ]{1,50}$"}, {"pattern": "^[\\p{L} ]{1,50}!$"}]},
            "The schema's patterns are too large together for RE2 (at $.anyOf[1].pattern",
        ),
        ({"const": {"pattern": "(?<=a)b"}}, "The pattern '(?<=a)b' at $.const.pattern cannot be used"),
        (
            {
                "properties": {
                    "a": {"$schema": "http://json-schema.org/draft-04/schema#", "pattern": "^(a+)+$"}
                }
            },
            "$schema is allowed only at the top of the schema, not at $.properties.a.$schema",
        ),
        (
            {"$ref": "https://json-schema.org/draft/2020-12/schema"},
            "The schema refers to 'https://json-schema.org/draft/2020-12/schema', which it does not define.",
        ),
        (
            {"properties": {"a": {"$dynamicRef": "https://json-schema.org/draft/2020-12/schema"}}},
            "The schema refers to 'https://json-schema.org/draft/2020-12/schema', which it does not define.",
        ),
    ],
    ids=[
        *REFUSED_IDS,
        "lookahead-key",
        "too-large",
        "too-large-together",
        "lookbehind-anywhere",
        "nested-$schema",
        "meta-schema",
        "meta-schema-dynamic",
    ],
)
def test_a_pattern_re2_cannot_run_within_the_limits_is_refused_saying_where_and_why(schema, message):
    with pytest.raises(SchemaRejected) as caught:
        check_format(schema)
    assert message in caught.value.message


def test_the_refusal_of_a_perl_construct_names_what_re2_lacks():
    with pytest.raises(SchemaRejected) as caught:
        check_format(LOOKAHEAD)
    assert "Patterns use RE2 syntax" in caught.value.message
    assert (
        "no lookahead or lookbehind" in caught.value.message and "no backreferences" in caught.value.message
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("schema", "message"), REFUSED, ids=REFUSED_IDS)
async def test_a_chat_frame_with_such_a_pattern_is_refused_and_nothing_is_saved_or_sent(
    ollama, alice, conversation, schema, message
):
    socket = await open_socket(alice, conversation.pk)
    await send(socket, type="chat", content="A code, please", format=schema)
    frame = await socket.receive_json_from(timeout=PATIENT)

    assert frame["type"] == "error" and frame["code"] == "invalid_schema"
    assert message in frame["message"]
    assert ollama.chat_requests() == [] and not await Message.objects.aexists()
    await socket.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(("schema", "message"), REFUSED, ids=REFUSED_IDS)
def test_such_a_pattern_is_not_saved_as_a_schema(alice, schema, message):
    response = post_json(signed_in(alice), "/schemas/", {"name": "Code", "schema": schema})

    assert response.status_code == 400 and message in error_message(response)
    assert not SavedSchema.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("schema", "message"), REFUSED, ids=REFUSED_IDS)
def test_an_import_asking_for_such_a_pattern_is_refused(alice, schema, message):
    export = {
        "format": "ollama-chat-export",
        "version": 1,
        "conversation": {
            "messages": [
                {"role": "user", "content": "hi", "created_at": "2026-01-01T00:00:00+00:00", "format": schema}
            ]
        },
    }
    upload = SimpleUploadedFile("chat.json", json.dumps(export).encode())
    response = signed_in(alice).post("/c/import/", {"file": upload})

    assert response.status_code == 400
    assert error_message(response).startswith("Message 1: ") and message in error_message(response)
    assert not Conversation.objects.exists() and not Message.objects.exists()


# Judging a reply: RE2, and never Python's re --------------------------------


def test_property_names_matched_by_a_backtracking_pattern_are_judged_like_values():
    schema = {
        "type": "object",
        "patternProperties": {EVIL: {"type": "integer"}},
        "additionalProperties": False,
    }

    result = evaluate(json.dumps({EVIL_TEXT: 1, "aaa": "x"}), schema)

    assert result["valid"] is False
    assert [error["path"] for error in result["errors"]] == ["$", "$.aaa"]
    assert "does not match any of the regexes: '^(a+)+$'" in result["errors"][0]["message"]
    assert result["errors"][1]["message"] == "'x' is not of type 'integer'"


def test_unevaluated_properties_ask_re2_which_keys_the_patterns_cover():
    schema = {"allOf": [{"patternProperties": {EVIL: True}}], "unevaluatedProperties": False}

    result = evaluate(json.dumps({EVIL_TEXT: 1, "aaa": 2}), schema)

    assert result["valid"] is False
    [error] = result["errors"]
    assert error["path"] == "$" and error["message"].startswith(
        "Unevaluated properties are not allowed ('aaaa"
    )


def test_the_top_level_schema_reached_again_through_a_reference_is_still_judged_by_re2():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": ["object", "string"],
        "properties": {"again": {"$ref": "#"}},
        "pattern": EVIL,
    }
    check_format(schema)

    result = evaluate(json.dumps({"again": EVIL_TEXT}), schema)

    assert result["valid"] is False
    assert [error["path"] for error in result["errors"]] == ["$.again"]


def test_a_meta_schema_reached_through_a_hidden_reference_is_not_followed():
    # The $ref inside `const` is not a subschema's, so the check does not see it;
    # the meta-schema's $dynamicRef "#meta" would lead back here under Python's re.
    schema = {
        "$id": "https://example.com/root",
        "$dynamicAnchor": "meta",
        "anyOf": [{"type": "object"}, {"pattern": EVIL}],
        "$ref": "#/const",
        "const": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
    }
    check_format(schema)

    result = evaluate(json.dumps({"properties": {"x": EVIL_TEXT}}), schema)

    assert result["valid"] is False
    assert result["errors"] == [
        {
            "path": "$",
            "message": "The schema could not be applied: Unresolvable: https://json-schema.org/draft/2020-12/schema",
        }
    ]


def test_a_schema_saved_with_a_nested_schema_declaration_is_not_applied():
    schema = {"properties": {"a": {"$schema": "http://json-schema.org/draft-04/schema#", "pattern": EVIL}}}

    result = evaluate(json.dumps({"a": EVIL_TEXT}), schema)

    assert result["valid"] is False and result["data"] == {"a": EVIL_TEXT}
    assert result["errors"][0]["message"].startswith(
        "The schema could not be applied: $schema is allowed only"
    )


def test_a_string_too_long_to_match_is_an_error_of_the_reply():
    long = "a" * 1_000_001

    result = evaluate(json.dumps({"code": long}), {"properties": {"code": {"pattern": "^a+$"}}})

    assert result["valid"] is False
    [error] = result["errors"]
    assert error["path"] == "$.code"
    assert "(1,000,001 characters) is too long to be checked against the pattern '^a+$'" in error["message"]
    assert "the limit is 1,000,000 characters" in error["message"]


def test_a_lone_surrogate_in_the_reply_is_an_error_not_a_crash():
    result = evaluate(
        '{"code": "\\ud800", "\\udfff": 1}',
        {"patternProperties": {"^x": {}}, "properties": {"code": {"pattern": "^a"}}},
    )

    assert result["valid"] is False and result["data"] is None
    assert [error["path"] for error in result["errors"]] == ["$"]
    assert "contains a lone surrogate" in result["errors"][0]["message"]


def test_a_reply_with_more_text_than_the_patterns_may_check_is_reported_whole():
    # ^\p{L}+$ compiles to about 1,200 RE2 instructions: 300,000 letters pass the limit.
    result = evaluate(json.dumps(["é" * 100_000] * 3), {"type": "array", "items": {"pattern": "^\\p{L}+$"}})

    assert result["valid"] is False and result["data"] == ["é" * 100_000] * 3
    [error] = result["errors"]
    assert error["path"] == "$"
    assert error["message"].startswith("The schema could not be applied: The reply holds too much text")


def test_a_schema_jsonschema_trips_over_is_an_error_of_the_reply_not_a_crash():
    # A property named $schema is fine; pointing a $ref at the object that lists it is not.
    schema = {"properties": {"$schema": {"type": "string"}}, "$ref": "#/properties"}
    check_format(schema)

    result = evaluate('{"$schema": "x"}', schema)

    assert result == {
        "valid": False,
        "data": {"$schema": "x"},
        "errors": [{"path": "$", "message": "The schema could not be applied to this reply."}],
    }


# Ordinary patterns work as before --------------------------------------------

CODE_FORMAT = {"type": "object", "properties": {"code": {"type": "string", "pattern": r"^[A-Z]{2}-\d{3}$"}}}


@pytest.mark.parametrize(
    ("code", "valid"), [("AB-123", True), ("ab-123", False), ("AB-1234", False), ("xAB-123", False)]
)
def test_an_ordinary_pattern_tells_matching_values_from_others(code, valid):
    result = evaluate(json.dumps({"code": code}), CODE_FORMAT)

    assert result["valid"] is valid
    if not valid:
        assert result["errors"] == [
            {"path": "$.code", "message": f"{code!r} does not match '^[A-Z]{{2}}-\\\\d{{3}}$'"}
        ]


def test_re2_syntax_python_lacks_is_accepted_and_applied():
    schema = {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}+$"}
    assert check_format(schema) == schema

    assert evaluate('"Ådne"', schema)["valid"] is True
    assert evaluate('"ådne"', schema)["valid"] is False


def test_pattern_properties_judge_the_keys_they_match():
    schema = {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}}

    result = evaluate('{"x-a": 1, "x-b": "two", "y": "free"}', schema)

    assert result["errors"] == [{"path": "$['x-b']", "message": "'two' is not of type 'integer'"}]


def test_additional_properties_false_leaves_room_for_the_pattern_properties():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "patternProperties": {"^x-": {}},
        "additionalProperties": False,
    }

    assert evaluate('{"name": "a", "x-1": 1}', schema)["valid"] is True
    assert evaluate('{"name": "a", "x-1": 1, "other": 2}', schema)["errors"] == [
        {"path": "$", "message": "'other' does not match any of the regexes: '^x-'"}
    ]
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    assert evaluate('{"other": 2, "more": 3}', draft7)["errors"] == [
        {"path": "$", "message": "'more', 'other' do not match any of the regexes: '^x-'"}
    ]


def test_unevaluated_properties_leave_room_for_pattern_properties_in_subschemas():
    schema = {"allOf": [{"patternProperties": {"^x-": {}}}], "unevaluatedProperties": False}

    assert evaluate('{"x-a": 1}', schema)["valid"] is True
    assert evaluate('{"x-a": 1, "z": 2}', schema)["errors"] == [
        {"path": "$", "message": "Unevaluated properties are not allowed ('z' was unexpected)"}
    ]
