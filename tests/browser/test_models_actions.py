"""The Models page asks before a copy replaces a model, offers Load only for models not loaded, and
lets finished pulls be dismissed and failed ones retried."""

from __future__ import annotations

import copy

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_models_page import open_models_page, start_pull
from tests.fake_ollama import running_model

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
VIEWPORTS = pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])


def start(page: Page, url: str, viewport) -> None:
    if viewport:
        page.set_viewport_size(viewport)
    sign_up(page, url)
    open_models_page(page, url)


@VIEWPORTS
def test_a_copy_onto_an_installed_model_asks_naming_both(page: Page, live_server_url: str, ollama, viewport):
    start(page, live_server_url, viewport)
    installed = page.get_by_role("table", name="Installed")

    installed.get_by_role("button", name="Copy llama3.2:latest").click()
    dialog = page.get_by_role("dialog", name="Copy llama3.2:latest")
    dialog.get_by_label("New name").fill("llava:7b")
    dialog.get_by_role("button", name="Copy").click()

    expect(dialog.get_by_role("alert")).to_have_text("Replace llava:7b with a copy of llama3.2:latest?")
    assert not ollama.requests_to("/api/copy")
    dialog.get_by_role("button", name="Replace").click()
    expect(dialog).to_be_hidden()
    assert ollama.find_model("llava:7b")["digest"] == ollama.find_model("llama3.2")["digest"]

    # Another name asks nothing more.
    installed.get_by_role("button", name="Copy llama3.2:latest").click()
    dialog.get_by_label("New name").fill("llava:7b")
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("button", name="Replace")).to_be_visible()
    dialog.get_by_label("New name").fill("fresh-name")
    expect(dialog.get_by_role("alert")).to_be_hidden()
    dialog.get_by_role("button", name="Copy").click()
    expect(installed.get_by_role("row").filter(has_text="fresh-name:latest")).to_have_count(1)


@VIEWPORTS
def test_load_is_offered_only_for_models_not_loaded(page: Page, live_server_url: str, ollama, viewport):
    ollama.running.append(running_model("llama3.2:latest", expires_in=240))
    start(page, live_server_url, viewport)
    installed = page.get_by_role("table", name="Installed")
    loaded = page.get_by_role("table", name="Loaded in memory")

    expect(loaded.get_by_role("row").filter(has_text="llama3.2:latest")).to_have_count(1)
    expect(installed.get_by_role("button", name="Load llama3.2:latest")).to_be_hidden()
    installed.get_by_role("button", name="Load qwen3:8b").click()
    expect(loaded.get_by_role("row").filter(has_text="qwen3:8b")).to_have_count(1)
    expect(installed.get_by_role("button", name="Load qwen3:8b")).to_be_hidden()
    expect(loaded.get_by_role("button", name="Unload qwen3:8b")).to_be_focused()

    loaded.get_by_role("button", name="Unload qwen3:8b").click()
    expect(installed.get_by_role("button", name="Load qwen3:8b")).to_be_visible()


@VIEWPORTS
def test_a_failed_pull_is_retried_and_finished_pulls_are_dismissed(
    page: Page, live_server_url: str, ollama, viewport
):
    start(page, live_server_url, viewport)
    start_pull(page, "smollm2:135m")
    pull = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="smollm2:135m"))
    expect(pull.get_by_role("alert")).to_contain_text("file does not exist")
    retry = pull.get_by_role("button", name="Retry pull of smollm2:135m")

    ollama.library.append({**copy.deepcopy(ollama.in_library("tinyllama")), "name": "smollm2:135m"})
    retry.click()

    expect(pull.get_by_text("Pulled · ")).to_be_visible()
    expect(retry).to_be_hidden()
    assert len(ollama.requests_to("/api/pull")) == 2
    pull.get_by_role("button", name="Dismiss pull of smollm2:135m").click()
    expect(pull).to_have_count(0)
    page.reload()
    expect(
        page.get_by_role("table", name="Installed").get_by_role("row").filter(has_text="smollm2:135m")
    ).to_have_count(1)
    expect(page.get_by_role("heading", name="smollm2:135m")).to_have_count(0)
