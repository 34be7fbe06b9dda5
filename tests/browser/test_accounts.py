"""Accounts in a real browser: staff add someone with a one-time link, the person sets a password and
signs in, staff deactivate them and their open tab is signed out; sign-up; one's own Account page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD, TIMEOUT_MS, open_sidebar, sign_up
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
CAROL_PASSWORD = "carol-Long-pass-789"


def open_menu_link(page: Page, name: str) -> None:
    """The links at the foot of the sidebar; on a phone the sidebar opens first."""
    open_sidebar(page)
    page.get_by_role("link", name=name, exact=True).click()


def fits_the_width(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_staff_add_someone_by_link_and_deactivating_signs_them_out(
    page: Page, browser: Browser, app_server: LiveServer, viewport
):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, app_server.url)
    open_menu_link(page, "Accounts")
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()
    expect(page).to_have_title("Accounts · Ollama Chat")
    fits_the_width(page)

    page.get_by_label("Username").fill("carol")
    page.get_by_label("Display name").fill("Carol Danvers")
    page.get_by_label("With a one-time sign-in link I send them").check()
    page.get_by_role("button", name="Add account").click()
    link = page.get_by_label("One-time sign-in link").input_value()
    assert link.startswith(f"{app_server.url}/accounts/welcome/")
    fits_the_width(page)

    carols = browser.new_context(viewport=viewport)
    carols.set_default_timeout(TIMEOUT_MS)
    carol = carols.new_page()
    carol.goto(link)
    expect(carol.get_by_role("heading", name="Welcome to Ollama Chat")).to_be_visible()
    carol.get_by_label("New password", exact=True).fill(CAROL_PASSWORD)
    carol.get_by_label("New password confirmation").fill(CAROL_PASSWORD)
    carol.get_by_role("button", name="Set password and sign in").click()
    expect(carol).to_have_url(f"{app_server.url}/")
    open_sidebar(carol)
    expect(carol.get_by_role("link", name="Carol Danvers")).to_be_visible()
    expect(carol.get_by_role("link", name="Accounts", exact=True)).to_have_count(0)
    carol.goto(link)
    expect(carol.get_by_role("heading", name="this link no longer works")).to_be_visible()
    carol.goto(f"{app_server.url}/models/")

    page.get_by_role("link", name="Back to Accounts").click()
    row = page.get_by_role("row").filter(has_text="carol")
    expect(row).to_contain_text("Carol Danvers")
    row.get_by_role("button", name="Deactivate carol").click()
    expect(page.get_by_role("status").filter(has_text="carol is deactivated")).to_be_visible()
    expect(
        page.get_by_role("row").filter(has_text="carol").get_by_role("button", name="Reactivate carol")
    ).to_be_visible()

    # Carol's tab says her session ended and offers the way back to where she was.
    ended = carol.get_by_role("alert").filter(has_text="Your session has ended.")
    expect(ended).to_be_visible()
    ended.get_by_role("link", name="Sign in again").click()
    expect(carol).to_have_url(f"{app_server.url}/login/?next=%2Fmodels%2F")
    carols.close()


def test_staff_cannot_deactivate_themselves_from_the_page(page: Page, app_server: LiveServer):
    sign_up(page, app_server.url)
    page.goto(f"{app_server.url}/accounts/users/")

    mine = page.get_by_role("row").filter(has_text="(you)")
    expect(mine.get_by_role("button")).to_have_count(0)
    expect(mine.get_by_role("link", name="Your account")).to_be_visible()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_people_sign_up_once_staff_allow_it(page: Page, browser: Browser, app_server: LiveServer, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, app_server.url)
    visitor = browser.new_context(viewport=viewport).new_page()
    visitor.goto(f"{app_server.url}/login/")
    expect(visitor).to_have_title("Sign in · Ollama Chat")
    expect(visitor.get_by_role("link", name="Sign up")).to_have_count(0)

    page.goto(f"{app_server.url}/accounts/users/")
    page.get_by_label("People may sign up by themselves").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="People may sign up by themselves.")).to_be_visible()

    visitor.reload()
    visitor.get_by_role("link", name="Sign up").click()
    expect(visitor.get_by_role("heading", name="Sign up for Ollama Chat")).to_be_visible()
    fits_the_width(visitor)
    visitor.get_by_label("Username").fill("dora")
    visitor.get_by_label("Display name").fill("Dora")
    visitor.get_by_label("Password", exact=True).fill(PASSWORD)
    visitor.get_by_label("Password confirmation").fill(PASSWORD)
    visitor.get_by_role("button", name="Sign up").click()
    expect(visitor).to_have_url(f"{app_server.url}/")
    visitor.context.close()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_everyone_changes_their_own_name_and_password(page: Page, app_server: LiveServer, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, app_server.url)
    open_menu_link(page, "alice")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    fits_the_width(page)

    page.get_by_label("Display name").fill("Alice Liddell")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status")).to_have_text("Your display name is saved.")

    page.get_by_label("Old password").fill("not it")
    page.get_by_label("New password", exact=True).fill("a-Newer-pass-456")
    page.get_by_label("New password confirmation").fill("a-Newer-pass-456")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your old password was entered incorrectly")).to_be_visible()

    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-Newer-pass-456")
    page.get_by_label("New password confirmation").fill("a-Newer-pass-456")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed.")

    page.get_by_role("link", name="Chat").click()
    open_menu_link(page, "Alice Liddell")
    expect(page).to_have_url(f"{app_server.url}/account/")
