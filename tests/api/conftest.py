"""Fixtures for the OpenAI-compatible API: a live app with alice's key, and the `openai` client on it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import openai
import pytest

from tests.live_server import LiveServer, signed_up


@dataclass
class Api:
    server: LiveServer
    browser: httpx.Client  # alice's signed-in session, as the page has it
    key: str
    clients: list[openai.OpenAI] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/v1/"

    def client(self, key: str | None = None) -> openai.OpenAI:
        # Only base_url and api_key differ from a script written for OpenAI; no retries, so a
        # refusal is seen as it comes.
        client = openai.OpenAI(base_url=self.base_url, api_key=key or self.key, max_retries=0)
        self.clients.append(client)
        return client


def create_key(browser: httpx.Client, name: str = "scripts") -> str:
    """Make a key on the API keys page, as a person does; the page shows it once."""
    page = browser.get("/api-keys/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.post("/api-keys/", data={"name": name, "csrfmiddlewaretoken": token})
    assert response.status_code == 200, response.text
    return re.search(r'id="new-key" type="text" readonly value="([^"]+)"', response.text).group(1)


@pytest.fixture
def api(start_live_server, ollama) -> Api:
    server = start_live_server(ollama.url)
    browser = signed_up(server)
    api = Api(server=server, browser=browser, key=create_key(browser))
    yield api
    for client in api.clients:
        client.close()
    browser.close()


def sign_in(server: LiveServer, username: str, password: str) -> httpx.Client:
    """A session of an account that exists, signed in on the login page."""
    client = httpx.Client(base_url=server.url, timeout=10)
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302, response.text
    return client


def add_user(server: LiveServer, username: str, password: str) -> None:
    server.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={password!r})",
    )
