"""The sidebar: date groups, search, the browser's time zone, and every conversation a page at a time.

No test here reads the clock: date groups are computed against a `now` the test gives.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conversations import sidebar
from conversations.models import Conversation, Message
from tests.helpers import error_message, signed_in

# The newest of make_conversations' conversations unless a test says otherwise.
START = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)

# Moments of the day that have broken date groups before (03:30 UTC put the page
# boundary of a test on a day boundary), in zones far from UTC either way.
ZONES = ["UTC", "Pacific/Kiritimati", "Pacific/Honolulu"]
HOURS = [(0, 30), (3, 30), (12, 0), (23, 30)]
CLOCKS = [
    pytest.param(
        zone,
        datetime(2026, 3, 1, hour, minute, tzinfo=zoneinfo.ZoneInfo(zone)),
        id=f"{zone}-{hour:02}:{minute:02}",
    )
    for zone in ZONES
    for hour, minute in HOURS
]


def make_conversations(
    owner, count: int, *, title: str = "Chat", tie: int = 7, pinned: int = 0, start: datetime = START
) -> list:
    """`count` conversations whose updated_at comes in runs of `tie` equal values, an hour apart going
    back from `start`; the first `pinned` pinned.

    Returns them in the sidebar's order: pinned first, then newest, ties by id.
    """
    created = Conversation.objects.bulk_create(
        Conversation(owner=owner, title=f"{title} {i:03d}", pinned=i < pinned) for i in range(count)
    )
    Message.objects.bulk_create(Message(conversation=c, role="user", content="Hello") for c in created)
    for run in range(0, count, tie):
        ids = [c.pk for c in created[run : run + tie]]
        Conversation.objects.filter(pk__in=ids).update(updated_at=start - timedelta(hours=run))
    rows = Conversation.objects.filter(pk__in=[c.pk for c in created]).values_list(
        "id", "pinned", "updated_at"
    )
    return [row[0] for row in sorted(rows, key=lambda row: (row[1], row[2], row[0]), reverse=True)]


def ids_of(body: dict) -> list[str]:
    return [c["id"] for group in body["groups"] for c in group["conversations"]]


def walk(client: Client, **params) -> list[dict]:
    """Every page of the sidebar, following `next`."""
    pages = [client.get("/c/", params).json()]
    while pages[-1]["next"]:
        assert len(pages) < 50, "the cursor does not move on"
        pages.append(client.get("/c/", {**params, "after": pages[-1]["next"]}).json())
    return pages


# What it shows: date groups, search, time zones --------------------------------


@pytest.mark.django_db
def test_search_matches_titles_and_message_text_of_my_conversations_only(alice, bob):
    recipes = Conversation.objects.create(owner=alice, title="Pasta recipes")
    Message.objects.create(conversation=recipes, role="user", content="Carbonara?")
    physics = Conversation.objects.create(owner=alice, title="Physics")
    Message.objects.create(conversation=physics, role="user", content="Explain QUANTUM tunnelling")
    bobs = Conversation.objects.create(owner=bob, title="Bob's quantum notes")
    Message.objects.create(conversation=bobs, role="user", content="quantum")
    hidden = Conversation.objects.create(owner=alice, title="Old")
    Message.objects.create(conversation=hidden, role="user", content="quantum", active=False)
    client = signed_in(alice)

    def titles(query: str) -> list[str]:
        groups = client.get("/c/", {"q": query}).json()["groups"]
        return [c["title"] for group in groups for c in group["conversations"]]

    assert titles("pasta") == ["Pasta recipes"]
    assert titles("quantum") == ["Physics"]
    assert sorted(titles("")) == ["Old", "Pasta recipes", "Physics"]
    assert titles("nothing like this") == []
    assert recipes.pk


def test_conversations_are_grouped_by_date_with_pinned_first():
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

    def conversation(title: str, age: timedelta, pinned: bool = False) -> Conversation:
        return Conversation(title=title, updated_at=now - age, pinned=pinned)

    groups = sidebar.grouped(
        [
            conversation("Pinned old", timedelta(days=400), pinned=True),
            conversation("Now", timedelta(hours=1)),
            conversation("Last night", timedelta(days=1)),
            conversation("Monday", timedelta(days=3)),
            conversation("Earlier this month", timedelta(days=20)),
            conversation("September", timedelta(days=70)),
            conversation("Also September", timedelta(days=75)),
        ],
        now=now,
    )

    assert [(g["label"], [c.title for c in g["conversations"]]) for g in groups] == [
        ("Pinned", ["Pinned old"]),
        ("Today", ["Now"]),
        ("Yesterday", ["Last night"]),
        ("Previous 7 days", ["Monday"]),
        ("Previous 30 days", ["Earlier this month"]),
        ("September 2026", ["September", "Also September"]),
    ]


@pytest.mark.parametrize(("zone", "now"), CLOCKS)
def test_date_groups_change_at_the_local_midnight_whatever_the_hour(zone, now):
    def at(days_ago: int, hour: int, minute: int = 0) -> Conversation:
        day = now.date() - timedelta(days=days_ago)
        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(zone))
        return Conversation(title=f"{days_ago}d {hour:02}:{minute:02}", updated_at=moment.astimezone(UTC))

    conversations = [
        at(0, 0, 0),
        at(1, 23, 59),
        at(1, 0, 0),
        at(2, 23, 59),
        at(7, 0, 0),
        at(8, 23, 59),
        at(30, 0, 0),
        at(31, 23, 59),
    ]

    with timezone.override(zone):
        groups = sidebar.grouped(conversations, now=now)

    month = (now.date() - timedelta(days=31)).strftime("%B %Y")
    assert [(g["label"], [c.title for c in g["conversations"]]) for g in groups] == [
        ("Today", ["0d 00:00"]),
        ("Yesterday", ["1d 23:59", "1d 00:00"]),
        ("Previous 7 days", ["2d 23:59", "7d 00:00"]),
        ("Previous 30 days", ["8d 23:59", "30d 00:00"]),
        (month, ["31d 23:59"]),
    ]


@pytest.mark.django_db
def test_the_sidebar_follows_the_browsers_time_zone(alice):
    # Moments long past, whose month differs between UTC and the browser's zone:
    # their group is a month's name, whatever the date today.
    late = Conversation.objects.create(owner=alice, title="Late")
    early = Conversation.objects.create(owner=alice, title="Early")
    for conversation in (late, early):
        Message.objects.create(conversation=conversation, role="user", content="Hello")
    Conversation.objects.filter(pk=late.pk).update(updated_at=datetime(2020, 1, 31, 23, 30, tzinfo=UTC))
    Conversation.objects.filter(pk=early.pk).update(updated_at=datetime(2020, 3, 1, 2, 0, tzinfo=UTC))
    client = signed_in(alice)

    def labels(zone: str | None) -> list[str]:
        if zone:
            client.cookies["tz"] = zone
        return [group["label"] for group in client.get("/c/").json()["groups"]]

    assert labels(None) == ["March 2020", "January 2020"]
    assert labels("Pacific/Kiritimati") == ["March 2020", "February 2020"]  # UTC+14
    assert labels("Pacific/Honolulu") == ["February 2020", "January 2020"]  # UTC-10
    assert labels("Not/AZone") == ["March 2020", "January 2020"]
    assert labels("../../etc/passwd") == ["March 2020", "January 2020"]


# A page at a time ---------------------------------------------------------------


@pytest.mark.django_db
def test_every_conversation_is_reachable_page_by_page_in_a_stable_order(alice, bob):
    # Runs of 11 equal updated_at straddle both page boundaries (100 and 200), and
    # 12 pinned ones come first; more than the 300 the sidebar once stopped at.
    expected = [str(pk) for pk in make_conversations(alice, 330, tie=11, pinned=12)]
    make_conversations(bob, 5, title="Bob's")

    pages = walk(signed_in(alice))

    assert [len(ids_of(page)) for page in pages] == [100, 100, 100, 30]
    assert [pk for page in pages for pk in ids_of(page)] == expected
    assert pages[0]["groups"][0]["label"] == "Pinned"
    assert all(c["pinned"] for c in pages[0]["groups"][0]["conversations"])
    assert pages[-1]["next"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "now"), CLOCKS)
def test_a_page_that_goes_on_in_the_same_date_group_repeats_its_label_for_the_client_to_join(
    alice, zone, now
):
    # An hour apart from noon three days ago: the first page ends seven days ago at
    # 09:00, the second goes on in "Previous 7 days" until midnight, then "Previous 30 days".
    noon = datetime.combine(now.date() - timedelta(days=3), datetime.min.time().replace(hour=12), now.tzinfo)
    make_conversations(alice, 150, tie=1, start=noon)

    with timezone.override(zone):
        first = sidebar.listing(owner_id=alice.pk, now=now)
        second = sidebar.listing(owner_id=alice.pk, now=now, after=sidebar.parse_cursor(first["next"]))

    assert [g["label"] for g in first["groups"]] == ["Previous 7 days"]
    assert [g["label"] for g in second["groups"]] == ["Previous 7 days", "Previous 30 days"]
    assert [len(g["conversations"]) for g in second["groups"]] == [9, 41]
    assert second["next"] is None


@pytest.mark.django_db
def test_search_results_are_paged_the_same_way(alice, bob):
    matching = make_conversations(alice, 230, tie=5)
    for pk in matching[::2]:  # half match by message text, half by title
        Message.objects.create(conversation_id=pk, role="user", content="Tell me about QUANTUM dots")
    Conversation.objects.filter(pk__in=matching[1::2]).update(title="Quantum notes")
    others = make_conversations(alice, 40, title="Cooking")
    Message.objects.create(conversation_id=others[0], role="user", content="quantum", active=False)
    bob_match = make_conversations(bob, 3, title="Bob's quantum")
    client = signed_in(alice)

    pages = walk(client, q="quantum")

    assert [len(ids_of(page)) for page in pages] == [100, 100, 30]
    assert [pk for page in pages for pk in ids_of(page)] == [str(pk) for pk in matching]
    assert not {str(pk) for pk in others + bob_match} & {pk for page in pages for pk in ids_of(page)}


@pytest.mark.django_db
def test_a_cursor_only_ever_shows_my_own_conversations(alice, bob):
    make_conversations(alice, 120)
    bob_ids = {str(pk) for pk in make_conversations(bob, 120, title="Bob's")}
    cursor = signed_in(alice).get("/c/").json()["next"]

    page = signed_in(bob).get("/c/", {"after": cursor}).json()

    assert set(ids_of(page)) <= bob_ids


@pytest.mark.django_db
@pytest.mark.parametrize(
    "after",
    [
        "nonsense",
        "2.1700000000000000.0b5e8c4e-4e0a-4d0c-9a43-52f1f1b0a001",
        "1.1700000000000000.not-a-uuid-at-all-not-a-uuid-at-all",
        "0.999999999999999999.0b5e8c4e-4e0a-4d0c-9a43-52f1f1b0a001",  # past the year 9999
        "0.-5.0b5e8c4e-4e0a-4d0c-9a43-52f1f1b0a001",
    ],
)
def test_a_malformed_cursor_is_refused(alice, after):
    response = signed_in(alice).get("/c/", {"after": after})
    assert response.status_code == 400
    assert "after" in error_message(response)


@pytest.mark.django_db
def test_every_page_costs_the_same_few_queries(alice, django_assert_num_queries):
    make_conversations(alice, 260, tie=3, pinned=4)
    for pk in Conversation.objects.filter(owner=alice).values_list("pk", flat=True)[:150]:
        Message.objects.create(conversation_id=pk, role="user", content="quantum")
    client = signed_in(alice)

    for params in ({}, {"q": "quantum"}):
        first = client.get("/c/", params).json()
        # Reading the session and the user, then one query for the page.
        with django_assert_num_queries(3):
            second = client.get("/c/", {**params, "after": first["next"]}).json()
        with django_assert_num_queries(3):
            client.get("/c/", params)
        assert second["groups"]


@pytest.mark.django_db
def test_the_chat_page_renders_the_first_page_and_the_cursor_of_the_next(alice):
    make_conversations(alice, 180, tie=9, pinned=2)
    client = signed_in(alice)
    client.cookies["tz"] = "Pacific/Kiritimati"  # the cursor does not depend on the zone shown

    html = client.get("/").content.decode()

    assert html.count('class="conv-item"') == 100
    written = re.search(r'id="conversation-groups" data-next="([^"]+)"', html)
    assert written, "the page carries no cursor for the next page"
    assert written[1] == client.get("/c/").json()["next"]
    second = client.get("/c/", {"after": written[1]}).json()
    assert len(ids_of(second)) == 80


@pytest.mark.django_db
def test_a_chat_page_with_few_conversations_renders_them_all(alice):
    make_conversations(alice, 3)
    html = signed_in(alice).get("/").content.decode()
    assert html.count('class="conv-item"') == 3
    assert "data-next" not in html
    assert signed_in(alice).get("/c/").json()["next"] is None


@pytest.mark.django_db
def test_a_conversation_without_a_message_is_not_listed(alice):
    """A send refused before it started leaves a conversation with no message: no empty "New chat"."""
    listed = make_conversations(alice, 2)
    Conversation.objects.create(owner=alice, model="llama3.2")
    client = signed_in(alice)

    assert ids_of(client.get("/c/").json()) == [str(pk) for pk in listed]
    assert client.get("/").content.decode().count('class="conv-item"') == 2
