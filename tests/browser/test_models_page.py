"""The Models page in a real browser, against a live server and the fake Ollama."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import MODEL, choose_model, sign_up
from tests.fake_ollama import running_model
from tests.live_server import LiveServer

pytestmark = pytest.mark.browser

BETWEEN = re.compile(r"^[1-9][0-9]?$")  # strictly between 0 and 100


def open_models_page(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/models/")
    expect(page.get_by_role("heading", name="Models", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Installed")).to_be_visible()


def start_pull(page: Page, name: str) -> None:
    page.get_by_label("Model name").fill(name)
    page.get_by_role("button", name="Pull", exact=True).click()


def test_a_pull_fills_its_progress_bar_in_two_tabs_and_reaches_the_picker(
    page: Page, context: BrowserContext, live_server_url: str, ollama
):
    ollama.pull_delay = 0.15
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)
    expect(page.get_by_text("Ollama 0.12.6")).to_be_visible()
    other = context.new_page()
    open_models_page(other, live_server_url)

    start_pull(page, "tinyllama")

    for tab in (page, other):
        bar = tab.get_by_role("progressbar", name="Pull of tinyllama:latest")
        expect(bar).to_have_attribute("aria-valuenow", BETWEEN)
    bar = page.get_by_role("progressbar", name="Pull of tinyllama:latest")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(other.get_by_role("progressbar", name="Pull of tinyllama:latest")).to_have_attribute(
        "aria-valuenow", "100"
    )
    expect(page.get_by_text("Pulled · 637.7 MB of 637.7 MB · 100%")).to_be_visible()
    installed = page.get_by_role("table", name="Installed")
    expect(installed.get_by_role("row").filter(has_text="tinyllama:latest")).to_contain_text("637.7 MB")
    other.close()

    page.get_by_role("link", name="Chat").click()
    choose_model(page, "tinyllama:latest")


def test_a_wrong_name_shows_ollamas_error(page: Page, live_server_url: str, ollama):
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)

    start_pull(page, "no-such-model")

    expect(page.get_by_role("alert")).to_have_text(
        "Ollama reported an error: pull model manifest: file does not exist"
    )


def test_a_pull_goes_on_across_a_reload_and_can_be_cancelled(page: Page, live_server_url: str, ollama):
    ollama.pull_delay = 0.3
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)
    start_pull(page, "tinyllama")
    bar = page.get_by_role("progressbar", name="Pull of tinyllama:latest")
    expect(bar).to_have_attribute("aria-valuenow", BETWEEN)

    page.reload()

    bar = page.get_by_role("progressbar", name="Pull of tinyllama:latest")
    expect(bar).to_have_attribute("aria-valuenow", BETWEEN)
    page.get_by_role("button", name="Cancel pull of tinyllama:latest").click()
    expect(page.get_by_text(re.compile(r"^Cancelled · "))).to_be_visible()
    expect(page.get_by_role("button", name="Cancel pull of tinyllama:latest")).to_be_hidden()
    assert len(ollama.requests_to("/api/pull")) == 1


def test_load_then_unload_updates_the_list_without_a_reload(page: Page, live_server_url: str, ollama):
    ollama.running.append(running_model("qwen3:8b", expires_in=240))
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)
    loaded = page.get_by_role("table", name="Loaded in memory")
    expect(loaded.get_by_role("row").filter(has_text="qwen3:8b")).to_contain_text("in 4 minutes")

    installed = page.get_by_role("table", name="Installed")
    installed.get_by_role("button", name="Load llama3.2:latest").click()
    expect(loaded.get_by_role("row").filter(has_text="llama3.2:latest")).to_contain_text("2.0 GB")

    loaded.get_by_role("button", name="Unload qwen3:8b").click()
    expect(loaded.get_by_role("row").filter(has_text="qwen3:8b")).to_have_count(0)
    loaded.get_by_role("button", name="Unload llama3.2:latest").click()
    expect(page.get_by_text("No model is loaded.")).to_be_visible()
    assert ollama.running == []


def test_details_copy_and_delete(page: Page, live_server_url: str, ollama):
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)
    installed = page.get_by_role("table", name="Installed")

    installed.get_by_role("button", name="Details llava:7b").click()
    expect(installed.get_by_text("32,768 tokens")).to_be_visible()
    expect(installed.get_by_text("Example licence text")).to_be_hidden()
    installed.get_by_text("License").click()
    expect(installed.get_by_text("Example licence text")).to_be_visible()

    installed.get_by_role("button", name="Copy llama3.2:latest").click()
    dialog = page.get_by_role("dialog", name="Copy llama3.2:latest")
    dialog.get_by_label("New name").fill("my-llama")
    dialog.get_by_role("button", name="Copy").click()
    expect(installed.get_by_role("row").filter(has_text="my-llama:latest")).to_have_count(1)

    installed.get_by_role("button", name="Delete my-llama:latest").click()
    dialog = page.get_by_role("dialog", name="Delete my-llama:latest?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(installed.get_by_role("row").filter(has_text="my-llama:latest")).to_have_count(1)
    installed.get_by_role("button", name="Delete my-llama:latest").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(installed.get_by_role("row").filter(has_text="my-llama:latest")).to_have_count(0)
    assert ollama.find_model("my-llama") is None


def test_pull_a_model_to_100_percent_then_unload_a_running_one(page: Page, live_server_url: str, ollama):
    ollama.pull_delay = 0.1
    ollama.running.append(running_model("llama3.2:latest", expires_in=300))
    sign_up(page, live_server_url)
    open_models_page(page, live_server_url)

    start_pull(page, "tinyllama")
    bar = page.get_by_role("progressbar", name="Pull of tinyllama:latest")
    expect(bar).to_have_attribute("aria-valuenow", BETWEEN)
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(
        page.get_by_role("table", name="Installed").get_by_role("row").filter(has_text="tinyllama:latest")
    ).to_have_count(1)

    loaded = page.get_by_role("table", name="Loaded in memory")
    loaded.get_by_role("button", name="Unload llama3.2:latest").click()
    expect(page.get_by_text("No model is loaded.")).to_be_visible()
    unload = [r.json for r in ollama.requests_to("/api/chat") if (r.json or {}).get("keep_alive") == 0]
    assert unload == [{"model": "llama3.2:latest", "messages": [], "keep_alive": 0}]


def test_someone_who_is_not_staff_can_load_and_unload_but_not_manage(
    page: Page, app_server: LiveServer, ollama
):
    app_server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user('bob', password='bob-Long-pass-456')",
    )
    page.goto(f"{app_server.url}/models/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("bob-Long-pass-456")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{app_server.url}/models/")
    open_models_page(page, app_server.url)

    installed = page.get_by_role("table", name="Installed")
    for name in (MODEL, "llava:7b", "qwen3:8b"):
        row = installed.get_by_role("row").filter(has_text=name)
        expect(row.get_by_role("button", name=f"Load {name}")).to_be_visible()
        expect(row.get_by_role("button", name=f"Details {name}")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^(Copy|Delete) "))).to_have_count(0)
    expect(page.get_by_role("button", name="Pull", exact=True)).to_have_count(0)
    expect(page.get_by_label("Model name")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)

    installed.get_by_role("button", name=f"Load {MODEL}").click()
    loaded = page.get_by_role("table", name="Loaded in memory")
    expect(loaded.get_by_role("row").filter(has_text=MODEL)).to_contain_text("2.0 GB")
    loaded.get_by_role("button", name=f"Unload {MODEL}").click()
    expect(page.get_by_text("No model is loaded.")).to_be_visible()
    assert ollama.running == []
