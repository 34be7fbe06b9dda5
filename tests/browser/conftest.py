"""Browser fixtures: Chromium, the app on the fake Ollama, a signed-in page.

The app runs under daphne in a process of its own (tests/live_server.py, the
start_live_server fixture); this process never touches its database. Chromium
is Debian's (/usr/bin/chromium): no browser is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.fake_ollama import FakeOllama, Recorded
from tests.live_server import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
TIMEOUT_MS = 10_000

USERNAME = "alice"
PASSWORD = "a-Long-pass-123"
MODEL = "llama3.2:latest"


@pytest.fixture
def ollama(fake_ollama_server):
    """The fake Ollama, emptied of scripts and recorded requests.

    Scripts queued with enqueue_chat answer streamed replies only; the
    non-streaming requests the app makes on the side (a conversation's title)
    get the fake's own short answer, so they never take a reply's script.
    """
    fake_ollama_server.reset()
    yield fake_ollama_server
    fake_ollama_server.reset()


def reply_requests(fake: FakeOllama) -> list[Recorded]:
    """The streamed /api/chat requests: one per reply."""
    return [
        r
        for r in fake.chat_requests()
        if r.json and r.json.get("messages") and r.json.get("stream") is not False
    ]


@pytest.fixture
def app_server(start_live_server, ollama) -> LiveServer:
    """A fresh app (empty database) under daphne, in its own process, on the fake Ollama."""
    return start_live_server(ollama.url)


@pytest.fixture
def live_server_url(app_server: LiveServer) -> str:
    return app_server.url


# The browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, start_live_server) -> Iterator[BrowserContext]:
    # Set up after start_live_server, so torn down before it: the servers stop
    # once the pages are closed, with no request of theirs in flight.
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_up(page: Page, base_url: str) -> None:
    """Create the first account through the first-run page; lands on the chat page."""
    page.goto(base_url)
    expect(page).to_have_url(f"{base_url}/setup/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base_url}/")


def choose_model(page: Page, name: str = MODEL) -> None:
    """Pick a model once the picker has the installed ones."""
    picker = page.get_by_label("Model")
    expect(picker.locator(f'option[value="{name}"]')).to_have_count(1)
    picker.select_option(value=name)
    expect(picker).to_have_value(name)


@pytest.fixture
def signed_in_page(page: Page, live_server_url: str) -> Page:
    """The chat page of a fresh install, signed in as alice, llama3.2 picked."""
    sign_up(page, live_server_url)
    choose_model(page)
    return page


# What the page shows --------------------------------------------------------


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


def user_articles(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"] article[data-role="user"]')


def assistant_articles(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"] article[data-role="assistant"]')


def content(article: Locator) -> Locator:
    return article.locator(".content")


def send_message(page: Page, text: str) -> None:
    box = message_box(page)
    box.fill(text)
    box.press("Enter")


REPLY_STATE = """index => {
    const article = document.querySelectorAll('[aria-label="Messages"] article[data-role="assistant"]')[index];
    const content = article && article.querySelector(".content");
    return content ? {status: article.dataset.status, text: content.textContent} : null;
}"""
STREAMING_TEXT = f"""([index, text]) => {{
    const reply = ({REPLY_STATE})(index);
    return reply && reply.status === "streaming" && reply.text.includes(text) ? reply.text : null;
}}"""


def streaming_text(page: Page, index: int, expected: str) -> str:
    """Wait until reply `index` shows `expected` while still streaming; its text then."""
    try:
        return page.wait_for_function(STREAMING_TEXT, arg=[index, expected]).json_value()
    except PlaywrightTimeoutError:
        seen = page.evaluate(REPLY_STATE, index)
        pytest.fail(f"reply {index} never showed {expected!r} while streaming; now it is {seen}")


# app.css's narrow-screen rules: at this width and below the sidebar is a drawer behind "Show conversations".
NARROW_MAX_WIDTH = 720


def open_sidebar(page: Page) -> None:
    """Show the sidebar: on a narrow screen, open the drawer once the page's script has run
    (the model picker is filled); decided by the viewport, not by what is visible yet."""
    if page.viewport_size["width"] > NARROW_MAX_WIDTH:
        return
    expect(page.get_by_label("Model").locator("option[value]").first).to_be_attached()
    toggle = page.get_by_role("button", name="Show conversations")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
