"""Signing in through the page in a real browser, and what too many failed sign-ins show."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, USERNAME, send_message, sign_up
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

LIMIT = 5  # LOGIN_FAILURE_LIMIT's default: the live server runs without it set


def submit(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_too_many_wrong_passwords_pause_signing_in_with_a_message(page: Page, app_server: LiveServer):
    sign_up(page, app_server.url)
    page.context.clear_cookies()
    page.goto(f"{app_server.url}/login/")

    for attempt in range(1, LIMIT):
        submit(page, USERNAME, f"wrong {attempt}")
        expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    submit(page, USERNAME, "wrong again")
    paused = page.get_by_role("alert")
    expect(paused).to_have_text("Too many failed sign-ins. Try again in 15 minutes.")

    with page.expect_response(lambda r: r.url.endswith("/login/") and r.request.method == "POST") as sent:
        submit(page, USERNAME, PASSWORD)

    assert sent.value.status == 429
    expect(paused).to_have_text("Too many failed sign-ins. Try again in 15 minutes.")
    expect(page).to_have_url(f"{app_server.url}/login/")
    page.goto(f"{app_server.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # still signed out


def test_a_message_sent_after_the_session_ended_says_so_and_leads_to_the_sign_in_page(
    signed_in_page: Page, live_server_url: str
):
    page = signed_in_page
    page.context.clear_cookies(name="sessionid")

    send_message(page, "Still there?")

    banner = page.get_by_role("alert").filter(has_text="Your session has ended.")
    expect(banner).to_be_visible()
    expect(page.get_by_role("textbox", name="Message", exact=True)).to_have_value("Still there?")  # not lost
    banner.get_by_role("link", name="Sign in again").click()
    expect(page).to_have_url(f"{live_server_url}/login/?next=%2F")
