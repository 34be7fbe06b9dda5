"""Pages and JSON answers go compressed to a browser that accepts it; streams go as they come."""

from __future__ import annotations

import json

import httpx

from tests.api.conftest import Api, api  # noqa: F401 (the fixture)
from tests.live_server import signed_up


def test_the_chat_page_and_its_json_arrive_gzipped_and_whole(start_live_server, ollama):
    server = start_live_server(ollama.url)
    browser = signed_up(server)
    try:
        page = browser.get("/", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200
        assert page.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in page.headers["vary"]
        assert int(page.headers["content-length"]) < len(page.content) / 2  # what came, against its text
        assert '<textarea id="message"' in page.text

        models = browser.get("/api/models/", headers={"Accept-Encoding": "gzip"})
        assert models.headers["content-encoding"] == "gzip"
        assert [model["name"] for model in models.json()["models"]]

        plain = httpx.get(
            f"{server.url}/login/", headers={"Accept-Encoding": "identity"}, follow_redirects=True
        )
        assert "content-encoding" not in plain.headers and "<form" in plain.text
    finally:
        browser.close()


def test_a_streamed_api_reply_is_not_held_back_for_compression(api: Api, ollama):  # noqa: F811
    ollama.enqueue_chat("One ", "two.", delay=0.05)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "Count"}], "stream": True}
    headers = {"Authorization": f"Bearer {api.key}", "Accept-Encoding": "gzip"}
    with httpx.stream("POST", f"{api.base_url}chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert "content-encoding" not in response.headers
        raw = b"".join(response.iter_raw())
    lines = [line for line in raw.decode().splitlines() if line.startswith("data: {")]
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines)
    assert text == "One two."
    assert raw.startswith(b"data: ")  # as sent, not a gzip stream
