"""Sign-in throttling: too many failed sign-ins pause an account, and an address, for a while."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

from conversations.sign_in import SIGN_UP, lockout_parameters

pytestmark = pytest.mark.django_db

ALICE_HOME = "203.0.113.10"
ATTACKER = "198.51.100.66"
ELSEWHERE = "192.0.2.44"
MESSAGE = re.compile(r"Too many failed sign-ins\. Try again in (\d+) minutes?\.")


def sign_in(client: Client, username: str, password: str, *, address: str, path: str = "/login/", **headers):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def signed_in_as(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id).get_username() if user_id else None


def fail(times: int, username: str, *, address: str, path: str = "/login/") -> list:
    client = Client()
    return [sign_in(client, username, "wrong password", address=address, path=path) for _ in range(times)]


def shown_minutes(response) -> int:
    found = MESSAGE.search(response.content.decode())
    assert found, f"no lockout message in: {response.content.decode()[:2000]}"
    return int(found[1])


def age_attempts(by: timedelta) -> None:
    """Move every recorded failure back in time, as if `by` had passed."""
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - by)


def test_the_limit_and_the_cool_off_come_from_the_settings(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert lockout_parameters(None, {"username": "alice"}) == ["username", "ip_address"]
    assert lockout_parameters(None, {SIGN_UP: True}) == ["ip_address"]  # sign-ups: the address only
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(alice, settings):
    wrong = fail(settings.AXES_FAILURE_LIMIT, "alice", address=ATTACKER)
    client = Client()

    right = sign_in(client, "alice", "alice-password", address=ATTACKER)

    assert [r.status_code for r in wrong[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert b"Please enter a correct username and password" in wrong[0].content
    assert wrong[-1].status_code == 429  # the failure that reaches the limit says so at once
    assert shown_minutes(wrong[-1]) == 15
    assert right.status_code == 429
    assert 0 < shown_minutes(right) <= 15
    assert 0 < int(right["Retry-After"]) <= 15 * 60
    assert "registration/login.html" in [t.name for t in right.templates]
    assert b'name="password"' in right.content  # the form is still there, for later
    assert signed_in_as(client) is None


def test_the_locked_account_is_refused_from_another_address_too(alice, settings):
    fail(settings.AXES_FAILURE_LIMIT, "alice", address=ATTACKER)
    client = Client()

    response = sign_in(client, "alice", "alice-password", address=ALICE_HOME)

    assert response.status_code == 429 and shown_minutes(response)
    assert signed_in_as(client) is None


def test_another_account_from_another_address_is_unaffected(alice, bob, settings):
    fail(settings.AXES_FAILURE_LIMIT, "alice", address=ATTACKER)
    client = Client()

    response = sign_in(client, "bob", "bob-password", address=ELSEWHERE)

    assert response.status_code == 302
    assert signed_in_as(client) == "bob"


def test_an_address_that_fails_on_many_accounts_is_paused_for_every_account(alice, bob, settings):
    for index in range(settings.AXES_FAILURE_LIMIT):
        fail(1, f"guess{index}", address=ATTACKER)
    from_there, from_elsewhere = Client(), Client()

    refused = sign_in(from_there, "bob", "bob-password", address=ATTACKER)
    accepted = sign_in(from_elsewhere, "bob", "bob-password", address=ELSEWHERE)

    assert refused.status_code == 429 and shown_minutes(refused)
    assert signed_in_as(from_there) is None
    assert accepted.status_code == 302 and signed_in_as(from_elsewhere) == "bob"


def test_the_lock_ends_after_the_cool_off(alice, settings):
    fail(settings.AXES_FAILURE_LIMIT, "alice", address=ATTACKER)
    age_attempts(settings.AXES_COOLOFF_TIME - timedelta(minutes=5))
    client = Client()

    still = sign_in(client, "alice", "alice-password", address=ALICE_HOME)
    assert still.status_code == 429 and shown_minutes(still) == 5
    age_attempts(timedelta(minutes=5, seconds=1))

    response = sign_in(client, "alice", "alice-password", address=ALICE_HOME)

    assert response.status_code == 302
    assert signed_in_as(client) == "alice"


def test_trying_again_while_paused_does_not_make_the_pause_longer(alice, settings):
    fail(settings.AXES_FAILURE_LIMIT, "alice", address=ATTACKER)
    recorded = sorted(AccessAttempt.objects.values_list("attempt_time", "failures_since_start"))

    fail(3, "alice", address=ATTACKER)
    sign_in(Client(), "alice", "alice-password", address=ALICE_HOME)

    assert sorted(AccessAttempt.objects.values_list("attempt_time", "failures_since_start")) == recorded


def test_a_successful_sign_in_clears_the_accounts_failures(alice, settings):
    limit = settings.AXES_FAILURE_LIMIT
    fail(limit - 1, "alice", address=ALICE_HOME)
    assert sign_in(Client(), "alice", "alice-password", address=ALICE_HOME).status_code == 302

    fail(limit - 1, "alice", address=ALICE_HOME)
    client = Client()

    assert sign_in(client, "alice", "alice-password", address=ALICE_HOME).status_code == 302
    assert signed_in_as(client) == "alice"


def test_signing_in_to_ones_own_account_does_not_clear_failures_on_anothers(alice, settings):
    get_user_model().objects.create_user("eve", password="eve-password")
    limit = settings.AXES_FAILURE_LIMIT
    fail(limit - 1, "alice", address=ATTACKER)
    assert sign_in(Client(), "eve", "eve-password", address=ATTACKER).status_code == 302

    fail(1, "alice", address=ATTACKER)
    client = Client()

    assert sign_in(client, "alice", "alice-password", address=ALICE_HOME).status_code == 429
    assert signed_in_as(client) is None


def test_the_admin_sign_in_is_throttled_too(admin, settings):
    wrong = fail(settings.AXES_FAILURE_LIMIT, "admin", address=ATTACKER, path="/admin/login/")
    client = Client()

    right = sign_in(client, "admin", "admin-password", address=ATTACKER, path="/admin/login/?next=/admin/")

    assert wrong[0].status_code == 200 and wrong[-1].status_code == 429
    assert right.status_code == 429 and shown_minutes(right)
    assert client.get("/admin/").status_code == 302  # to the sign-in page: not signed in
    # The pages' forms are the same, so the shared form posts back to the admin's sign-in.
    assert "registration/login.html" in [t.name for t in right.templates]


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "counted_as"),
    [
        (0, "192.0.2.1", "127.0.0.9"),  # no proxy configured: the header is the client's word only
        (1, "192.0.2.1", "192.0.2.1"),
        (1, "10.9.9.9, 192.0.2.1", "192.0.2.1"),  # what the client sent comes first; the proxy appends
        (2, "10.9.9.9, 192.0.2.1, 172.16.0.2", "192.0.2.1"),
        (1, "not an address", "127.0.0.9"),
        (1, "", "127.0.0.9"),
        (2, "192.0.2.1", "127.0.0.9"),  # fewer hops than proxies: it did not come through them all
        (1, "::ffff:192.0.2.1", "192.0.2.1"),
        (1, "2001:DB8:0:0::1", "2001:db8::1"),
    ],
)
def test_the_address_counted_is_the_clients_only_behind_configured_proxies(
    alice, settings, proxies, forwarded_for, counted_as
):
    settings.TRUSTED_PROXY_COUNT = proxies

    sign_in(Client(), "alice", "wrong", address="127.0.0.9", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [counted_as]


def test_behind_a_proxy_one_clients_failures_do_not_pause_another(alice, bob, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for index in range(settings.AXES_FAILURE_LIMIT):
        sign_in(Client(), f"guess{index}", "wrong", address="127.0.0.1", HTTP_X_FORWARDED_FOR=ATTACKER)
    client = Client()

    response = sign_in(client, "bob", "bob-password", address="127.0.0.1", HTTP_X_FORWARDED_FOR=ELSEWHERE)

    assert response.status_code == 302 and signed_in_as(client) == "bob"


@pytest.mark.django_db(transaction=True)
async def test_the_lockout_page_is_the_same_under_asgi(alice, settings):
    from chatsite.asgi import application

    # Through the real ASGI application, as daphne runs it, CSRF token and all.
    transport = httpx.ASGITransport(app=application, client=(ATTACKER, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]

        async def sign_in_over_asgi(password: str) -> httpx.Response:
            data = {"csrfmiddlewaretoken": token, "username": "alice", "password": password}
            return await http.post("/login/", data=data)

        wrong = [await sign_in_over_asgi("wrong") for _ in range(settings.AXES_FAILURE_LIMIT)]
        right = await sign_in_over_asgi("alice-password")

    assert [r.status_code for r in wrong] == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert right.status_code == 429
    assert MESSAGE.search(right.text)[1] == "15"
    assert "sessionid" not in http.cookies
    assert "script-src 'self'" in right.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "body",
    [
        "username=%00alice&password=x",
        "username=" + "a" * 10_000 + "&password=x",
        "username=%ED%A0%80&password=x",  # a lone surrogate, as UTF-8 would carry it
        "username=alice&password=%00",
        "username=alice&password=" + "x" * 100_000,
    ],
)
def test_a_hostile_sign_in_gets_the_form_back(alice, body):
    response = Client().post(
        "/login/", body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=ATTACKER
    )

    assert response.status_code == 200
    assert b'class="errorlist' in response.content


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
@pytest.mark.parametrize(("header", "name"), [("HTTP_USER_AGENT", "User-Agent"), ("HTTP_ACCEPT", "Accept")])
def test_a_sign_in_whose_failure_could_not_be_recorded_is_refused_before_the_password_is_checked(
    admin, path, header, name
):
    # On PostgreSQL a NUL could not be saved: the failure would not count, and guesses would go on.
    headers = {header: "x\x00y"}
    responses = [sign_in(Client(), "admin", "admin-password", address=ATTACKER, path=path, **headers)]
    responses += fail(1, "admin", address=ATTACKER, path=path)

    assert responses[0].status_code == 200
    assert f"Your browser&#x27;s {name} header contains a NUL character" in responses[0].content.decode()
    assert "_auth_user_id" not in responses[0].wsgi_request.session
    assert AccessAttempt.objects.get().failures_since_start == 1  # only the ordinary failure after it


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_USER_AGENT": "b" * 100_000, "HTTP_ACCEPT": "a" * 100_000},
        {"HTTP_X_FORWARDED_FOR": "192.0.2.1\x00"},
        {"HTTP_X_FORWARDED_FOR": "192.0.2.1, " * 10_000},
    ],
)
def test_odd_headers_on_a_failed_sign_in_are_still_counted(alice, settings, headers):
    settings.TRUSTED_PROXY_COUNT = 1

    response = sign_in(Client(), "alice", "wrong", address=ATTACKER, **headers)

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert AccessAttempt.objects.get().failures_since_start == 1
