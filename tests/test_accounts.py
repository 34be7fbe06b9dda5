"""Accounts: staff add, deactivate, promote and reset people; one-time sign-in links; sign-up when
staff allow it; each user's own name and password."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.models import SiteSettings
from tests.helpers import open_socket, signed_in

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a-Long-pass-123"
LINK = re.compile(r'value="http://testserver(/accounts/welcome/[^"]+)"')


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password="root-password")


def add(client: Client, **fields) -> object:
    data = {"username": "carol", "first_name": "", "usable_password": "false", **fields}
    return client.post("/accounts/users/new/", data)


def link_in(response) -> str:
    found = LINK.search(response.content.decode())
    assert found, response.content.decode()[:3000]
    return found[1]


def use_link(link: str, password: str = NEW_PASSWORD) -> Client:
    """Open a one-time link in a fresh browser and set the password; the client after it."""
    client = Client()
    opened = client.get(link)
    assert opened.status_code == 302  # the token moves out of the address, into the session
    response = client.post(opened["Location"], {"new_password1": password, "new_password2": password})
    assert response.status_code == 302, response.content.decode()[:3000]
    return client


def can_sign_in(username: str, password: str) -> bool:
    client = Client()
    client.post("/login/", {"username": username, "password": password})
    return signed_in_as(client) == username


def signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id).get_username() if user_id else None


# Who may see the page -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts/users/"),
        ("post", "/accounts/users/new/"),
        ("post", "/accounts/users/1/active/"),
        ("post", "/accounts/users/1/staff/"),
        ("post", "/accounts/users/1/reset/"),
        ("post", "/accounts/settings/"),
    ],
)
def test_the_accounts_page_does_not_exist_for_people_who_are_not_staff(alice, bob, method, path):
    response = getattr(signed_in(alice), method)(
        path, {"username": "mallory", "active": "false", "staff": "true"}
    )

    assert response.status_code == 404
    assert not User.objects.filter(username="mallory").exists()
    assert User.objects.get(pk=bob.pk).is_active and not User.objects.get(pk=alice.pk).is_staff


def test_signed_out_visitors_are_sent_to_sign_in(admin):
    response = Client().get("/accounts/users/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_staff_see_everyone_with_name_staff_active_and_last_sign_in(admin, alice):
    alice.first_name = "Alice Liddell"
    alice.save()
    Client().post("/login/", {"username": "alice", "password": "alice-password"})

    page = signed_in(admin).get("/accounts/users/").content.decode()

    row = page[page.index('data-username="alice"') :].split("</tr>")[0]
    assert "Alice Liddell" in row
    assert "Never" not in row  # she has signed in
    assert "Reset the password of alice" in row
    admins = page[page.index('data-username="admin"') :].split("</tr>")[0]
    assert "(you)" in admins and "Deactivate" not in admins  # nothing here locks oneself out


def test_the_menu_links_the_accounts_page_for_staff_only(admin, alice):
    assert 'href="/accounts/users/"' in signed_in(admin).get("/").content.decode()
    assert 'href="/accounts/users/"' not in signed_in(alice).get("/").content.decode()


def test_every_change_needs_the_csrf_token(admin, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    assert client.post(f"/accounts/users/{alice.pk}/active/", {"active": "false"}).status_code == 403
    assert (
        client.post("/accounts/users/new/", {"username": "carol", "usable_password": "false"}).status_code
        == 403
    )
    assert User.objects.get(pk=alice.pk).is_active
    assert not User.objects.filter(username="carol").exists()


# Adding people --------------------------------------------------------------------------


def test_staff_add_someone_with_a_password_they_set(admin):
    response = add(signed_in(admin), usable_password="true", password1=NEW_PASSWORD, password2=NEW_PASSWORD)

    assert response.status_code == 302
    assert can_sign_in("carol", NEW_PASSWORD)


def test_password_validators_apply_and_nothing_is_saved(admin):
    response = add(signed_in(admin), usable_password="true", password1="carol", password2="carol")

    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_a_password_is_needed_when_no_link_is_sent(admin):
    response = add(signed_in(admin), usable_password="true")

    assert response.status_code == 400
    assert not User.objects.filter(username="carol").exists()


def test_a_one_time_link_sets_the_password_once_and_signs_in(admin):
    response = add(signed_in(admin), first_name="Carol", is_staff="on")
    carol = User.objects.get(username="carol")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert carol.first_name == "Carol" and carol.is_staff and not carol.has_usable_password()

    client = use_link(link_in(response))

    assert signed_in_as(client) == "carol"
    assert can_sign_in("carol", NEW_PASSWORD)


def test_a_one_time_link_used_twice_is_refused(admin):
    link = link_in(add(signed_in(admin)))
    use_link(link)

    again = Client()
    opened = again.get(link)
    if opened.status_code == 302:
        opened = again.get(opened["Location"])
    assert "this link no longer works" in opened.content.decode()
    refused = again.post(link, {"new_password1": "An-other-pass-9", "new_password2": "An-other-pass-9"})
    assert signed_in_as(again) is None
    assert refused.status_code == 200
    assert can_sign_in("carol", NEW_PASSWORD)


def test_a_link_of_a_deactivated_account_does_not_work(admin):
    link = link_in(add(signed_in(admin)))
    User.objects.filter(username="carol").update(is_active=False)

    response = Client().get(link)

    assert response.status_code == 200
    assert "this link no longer works" in response.content.decode()


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("has space", "Enter a valid username"),
        ("ALICE", "already exists"),
        ("nul\x00name", "Null characters are not allowed"),
        ("x" * 10_000, "at most 150 characters"),
    ],
)
def test_usernames_are_checked_as_django_does(admin, alice, username, expected):
    before = User.objects.count()

    response = add(signed_in(admin), username=username)

    assert response.status_code == 400
    assert expected in response.content.decode()
    assert User.objects.count() == before


def test_hostile_display_names_are_refused_with_a_message(admin):
    client = signed_in(admin)

    assert "at most 150 characters" in add(client, first_name="x" * 10_000).content.decode()
    assert "Null characters are not allowed" in add(client, first_name="a\x00b").content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_a_lone_surrogate_in_a_form_arrives_as_a_replacement_character(admin):
    body = "username=carol&usable_password=false&first_name=%ED%A0%80x"

    response = signed_in(admin).post(
        "/accounts/users/new/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert User.objects.get(username="carol").first_name == "\ufffd\ufffd\ufffdx"


# Deactivating, staff, resetting -------------------------------------------------------------


def test_staff_cannot_deactivate_or_demote_themselves(admin):
    client = signed_in(admin)

    deactivate = client.post(f"/accounts/users/{admin.pk}/active/", {"active": "false"})
    demote = client.post(f"/accounts/users/{admin.pk}/staff/", {"staff": "false"})
    reset = client.post(f"/accounts/users/{admin.pk}/reset/")

    assert (deactivate.status_code, demote.status_code, reset.status_code) == (403, 403, 403)
    assert "You cannot deactivate your own account." in deactivate.content.decode()
    assert "You cannot remove your own staff rights." in demote.content.decode()
    admin.refresh_from_db()
    assert admin.is_active and admin.is_staff and admin.check_password("admin-password")


def test_only_a_superuser_changes_a_superuser(admin, root):
    response = signed_in(admin).post(f"/accounts/users/{root.pk}/active/", {"active": "false"})

    assert response.status_code == 403
    assert "Only a superuser" in response.content.decode()
    assert User.objects.get(pk=root.pk).is_active


def test_staff_grant_and_remove_staff(admin, alice):
    client = signed_in(admin)

    assert client.post(f"/accounts/users/{alice.pk}/staff/", {"staff": "true"}).status_code == 302
    assert User.objects.get(pk=alice.pk).is_staff
    assert client.post(f"/accounts/users/{alice.pk}/staff/", {"staff": "false"}).status_code == 302
    assert not User.objects.get(pk=alice.pk).is_staff


@pytest.mark.parametrize("value", ["", "maybe", "\x00", "t" * 10_000])
def test_a_change_that_does_not_say_yes_or_no_is_refused(admin, alice, value):
    response = signed_in(admin).post(f"/accounts/users/{alice.pk}/active/", {"active": value})

    assert response.status_code == 400
    assert User.objects.get(pk=alice.pk).is_active


def test_an_unknown_account_is_a_404(admin):
    assert signed_in(admin).post("/accounts/users/999999/active/", {"active": "false"}).status_code == 404


def test_deactivating_signs_the_person_out_and_reactivating_lets_them_back(admin, alice):
    alices = signed_in(alice)
    client = signed_in(admin)

    assert client.post(f"/accounts/users/{alice.pk}/active/", {"active": "false"}).status_code == 302

    assert alices.get("/").status_code == 302
    assert not can_sign_in("alice", "alice-password")
    client.post(f"/accounts/users/{alice.pk}/active/", {"active": "true"})
    assert can_sign_in("alice", "alice-password")


@pytest.mark.django_db(transaction=True)
async def test_deactivating_on_the_page_closes_the_persons_open_tabs(admin, alice, conversation):
    socket = await open_socket(alice, conversation.pk)
    client = await sync_to_async(signed_in)(admin)

    response = await sync_to_async(client.post)(f"/accounts/users/{alice.pk}/active/", {"active": "false"})

    assert response.status_code == 302
    assert await socket.receive_json_from(timeout=5) == {"type": "signed_out"}
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


def test_a_reset_ends_the_old_password_and_earlier_links(admin, alice):
    client = signed_in(admin)
    first = link_in(client.post(f"/accounts/users/{alice.pk}/reset/"))
    second = link_in(client.post(f"/accounts/users/{alice.pk}/reset/"))

    assert not can_sign_in("alice", "alice-password")
    assert "this link no longer works" in Client().get(first).content.decode()
    assert signed_in_as(use_link(second)) == "alice"


# Signing up ------------------------------------------------------------------------------


def sign_up(client: Client, username: str = "dora", address: str = "203.0.113.7", **fields) -> object:
    data = {
        "username": username,
        "first_name": "",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **fields,
    }
    return client.post("/signup/", data, REMOTE_ADDR=address)


def test_sign_up_is_off_by_default(alice):
    assert Client().get("/signup/").status_code == 404
    assert sign_up(Client()).status_code == 404
    assert not User.objects.filter(username="dora").exists()
    assert "/signup/" not in Client().get("/login/").content.decode()


def test_staff_open_sign_up_and_the_sign_in_page_links_to_it(admin):
    assert signed_in(admin).post("/accounts/settings/", {"sign_up_open": "on"}).status_code == 302
    assert SiteSettings.current().sign_up_open
    assert 'href="/signup/"' in Client().get("/login/").content.decode()

    client = Client()
    response = sign_up(client, first_name="Dora")

    assert response.status_code == 302
    assert signed_in_as(client) == "dora"
    dora = User.objects.get(username="dora")
    assert dora.first_name == "Dora" and not dora.is_staff

    signed_in(admin).post("/accounts/settings/", {})
    assert Client().get("/signup/").status_code == 404


def test_sign_ups_are_throttled_per_address_like_sign_ins(alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    SiteSettings.objects.create(pk=1, sign_up_open=True)

    answers = [sign_up(Client(), username=f"user{n}").status_code for n in range(4)]
    elsewhere = sign_up(Client(), username="other", address="192.0.2.9")

    assert answers == [302, 302, 302, 429]
    assert elsewhere.status_code == 302
    assert not User.objects.filter(username="user3").exists()
    assert can_sign_in("alice", "alice-password")  # no one's account is paused


def test_sign_up_applies_the_same_checks(alice):
    SiteSettings.objects.create(pk=1, sign_up_open=True)

    for fields in (
        {"username": "Alice"},
        {"username": "a\x00b"},
        {"password2": "other"},
        {"first_name": "x" * 10_000},
    ):
        assert sign_up(Client(), **fields).status_code == 400
    assert User.objects.count() == 1


def test_sign_up_keeps_no_password_with_the_counted_attempt(alice):
    from axes.models import AccessAttempt

    SiteSettings.objects.create(pk=1, sign_up_open=True)
    sign_up(Client())

    assert NEW_PASSWORD not in "".join(AccessAttempt.objects.values_list("post_data", flat=True))


# One's own account ----------------------------------------------------------------------------


def test_a_display_name_shows_where_the_username_did(alice):
    client = signed_in(alice)

    assert client.post("/account/name/", {"first_name": "Alice L."}).status_code == 302

    assert ">Alice L.</a>" in client.get("/").content.decode()


def test_hostile_display_names_on_ones_own_account(alice):
    client = signed_in(alice)

    for name in ("x" * 10_000, "a\x00b"):
        assert client.post("/account/name/", {"first_name": name}).status_code == 400
    assert User.objects.get(pk=alice.pk).first_name == ""


def test_changing_ones_password_needs_the_current_one(alice):
    client = signed_in(alice)
    other_session = signed_in(alice)

    wrong = client.post(
        "/account/password/",
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    assert "Your old password was entered incorrectly" in wrong.content.decode()

    right = client.post(
        "/account/password/",
        {"old_password": "alice-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert right.status_code == 302
    assert client.get("/account/").status_code == 200  # this session goes on
    assert other_session.get("/account/").status_code == 302  # the others end
    assert can_sign_in("alice", NEW_PASSWORD)
