"""The built-in tools on their own: the calculator's parser, the time in the user's zone, searching one's own conversations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.models import Conversation, Message
from conversations.tools import builtins, registry
from conversations.tools.arithmetic import NotArithmetic, evaluate
from conversations.tools.builtins import Caller, ToolFailed


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(17 * 23) / 4", 97.75),
        ("2 ** 10", 1024),
        ("2^8", 256),
        ("-3 % 5", 2),
        ("sqrt(16)", 4.0),
    ],
)
def test_the_calculator_computes_arithmetic(expression, value):
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "(1).__class__",
        "open('/etc/passwd')",
        "[1, 2]",
        "True + 1",
        "9 ** 9 ** 9",
        "10 ** 100000",
        "2 ** 4000 * 2 ** 4000",
        "1 / 0",
        "1e308 * 10",
        "(" * 400 + "1" + ")" * 400,
        "x" * 1000,
        "lambda: 1",
        "",
    ],
)
def test_the_calculator_refuses_anything_else(expression):
    with pytest.raises(NotArithmetic):
        evaluate(expression)


async def test_the_time_is_the_users_by_the_clock_given():
    caller = Caller(user_id=1, time_zone="Asia/Tokyo", clock=lambda: datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert await builtins.current_time({}, caller) == "Monday 02 March 2026, 08:30:00 (Asia/Tokyo, UTC+09:00)"
    nowhere = Caller(user_id=1, time_zone="Not/AZone", clock=lambda: datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert "(UTC, UTC+00:00)" in await builtins.current_time({}, nowhere)


@pytest.mark.django_db
def test_search_finds_only_the_users_own_conversations(alice, bob):
    mine = Conversation.objects.create(owner=alice, title="Trip to Lisbon")
    Message.objects.create(conversation=mine, role="user", content="What about the tram in Lisbon?")
    theirs = Conversation.objects.create(owner=bob, title="Lisbon secrets")
    Message.objects.create(conversation=theirs, role="user", content="Lisbon password hunter2")

    found = builtins.search(user_id=alice.pk, query="lisbon")

    assert found == [{"conversation": "Trip to Lisbon", "snippet": "What about the tram in Lisbon?"}]


async def test_search_needs_words():
    with pytest.raises(ToolFailed):
        await builtins.search_conversations({"query": "  "}, Caller(user_id=1))


def test_an_administrator_can_switch_a_builtin_tool_off(settings):
    settings.DISABLED_TOOLS = ["search_conversations"]
    assert [tool.name for tool in registry.builtin_tools()] == ["current_time", "calculator"]


@pytest.mark.parametrize(
    "value", ["builtin:calculator", [1], ["http://evil.example/"], ["builtin:x"] * 0 + ["a" * 400]]
)
def test_tool_choices_are_checked(value):
    with pytest.raises(ValueError):
        registry.clean_keys(value)
