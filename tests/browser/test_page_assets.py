"""Each page loads all its stylesheets and modules: no failed request, no console error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import message_box, sign_up

pytestmark = pytest.mark.browser

# Every linked stylesheet is loaded and has rules.
STYLESHEETS_LOADED = """() => {
  const links = document.querySelectorAll('link[rel="stylesheet"]').length;
  const sheets = [...document.styleSheets];
  return links > 0 && sheets.length === links && sheets.every((sheet) => sheet.cssRules.length > 0);
}"""


def test_every_page_loads_its_stylesheets_and_modules_without_an_error(page: Page, live_server_url: str):
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    # Leaving a page may abort its JSON requests; a stylesheet or module must not fail.
    page.on(
        "requestfailed",
        lambda request: request.resource_type in ("stylesheet", "script") and problems.append(request.url),
    )
    page.on(
        "response",
        lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}"),
    )

    sign_up(page, live_server_url)
    expect(message_box(page)).to_be_focused()  # the chat page's modules ran to their end
    assert page.evaluate(STYLESHEETS_LOADED)

    page.goto(f"{live_server_url}/models/")
    expect(page.locator("#ollama-status")).to_contain_text("is running")  # the Models page's modules ran
    assert page.evaluate(STYLESHEETS_LOADED)

    page.context.clear_cookies()
    page.goto(f"{live_server_url}/login/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate(STYLESHEETS_LOADED)

    assert not problems
