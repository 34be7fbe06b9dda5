"""Pages and JSON answers go compressed to a browser that accepts it (streams: tests/api/test_chat_completions.py)."""

from __future__ import annotations

import httpx

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
