"""Ollama's model-management API: what the fake answers, and how the client reads it."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from conversations.ollama.client import OllamaClient, OllamaError
from tests.fake_ollama import running_model
from tests.helpers import closed_port_url

PULL_LINE = re.compile(r"^pulling [0-9a-f]{12}$")


# The fake speaks Ollama's model-management API ----------------------------


def pull_lines(ollama, model: str) -> list[dict]:
    with httpx.stream("POST", f"{ollama.url}/api/pull", json={"model": model}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def test_the_fake_streams_pull_progress_layer_by_layer_then_success(ollama):
    lines = pull_lines(ollama, "tinyllama")

    assert lines[0] == {"status": "pulling manifest"}
    assert [line["status"] for line in lines[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    layers = lines[1:-3]
    for line in layers:
        assert PULL_LINE.match(line["status"])
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", line["digest"])
        assert line["status"] == f"pulling {line['digest'][7:19]}"
        assert 0 < line["total"] and 0 < line.get("completed", 1) <= line["total"]
    assert "completed" not in layers[0]  # left out while it is 0
    first = [line for line in layers if line["digest"] == layers[0]["digest"]]
    assert [line.get("completed", 0) for line in first] == sorted(line.get("completed", 0) for line in first)
    assert first[-1]["completed"] == first[-1]["total"]
    assert len({line["digest"] for line in layers}) > 1
    assert ollama.find_model("tinyllama:latest") is not None


def test_the_fake_answers_an_unknown_pull_with_an_error_line_after_the_manifest(ollama):
    lines = pull_lines(ollama, "no-such-model")

    assert lines == [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    assert ollama.find_model("no-such-model") is None


def test_the_fake_deletes_and_copies_with_ollamas_statuses_and_quotes(ollama):
    copied = httpx.post(f"{ollama.url}/api/copy", json={"source": "llama3.2", "destination": "mine"})
    assert copied.status_code == 200 and copied.content == b""
    assert ollama.find_model("mine:latest")["family"] == "llama"

    deleted = httpx.request("DELETE", f"{ollama.url}/api/delete", json={"model": "mine"})
    assert deleted.status_code == 200 and deleted.content == b""
    assert ollama.find_model("mine") is None

    gone = httpx.request("DELETE", f"{ollama.url}/api/delete", json={"model": "mine"})
    assert gone.status_code == 404 and gone.json() == {"error": "model 'mine' not found"}
    missing = httpx.post(f"{ollama.url}/api/copy", json={"source": "mine", "destination": "x"})
    assert missing.status_code == 404 and missing.json() == {"error": 'model "mine" not found'}
    invalid = httpx.post(f"{ollama.url}/api/copy", json={"source": "llama3.2", "destination": "a b"})
    assert invalid.status_code == 400 and invalid.json() == {"error": 'destination "a b" is invalid'}


def test_the_fake_loads_and_unloads_with_empty_messages_and_lists_them_in_ps(ollama):
    ollama.running.append(running_model("qwen3:8b", expires_in=60))

    httpx.post(f"{ollama.url}/api/chat", json={"model": "llama3.2", "messages": []})
    loaded = httpx.get(f"{ollama.url}/api/ps").json()["models"]
    assert [m["name"] for m in loaded] == ["llama3.2:latest", "qwen3:8b"]  # most time left first
    assert loaded[0]["expires_at"] > loaded[1]["expires_at"]

    answer = httpx.post(f"{ollama.url}/api/chat", json={"model": "llama3.2", "keep_alive": 0}).json()
    assert answer["done_reason"] == "unload"
    assert [m["name"] for m in httpx.get(f"{ollama.url}/api/ps").json()["models"]] == ["qwen3:8b"]


# The client ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_client_yields_pull_progress_and_raises_on_an_error_line(ollama):
    client = OllamaClient(ollama.url)
    try:
        progress = [line async for line in client.pull("tinyllama")]
        assert progress[0]["status"] == "pulling manifest" and progress[-1]["status"] == "success"

        with pytest.raises(OllamaError) as caught:
            async for _ in client.pull("no-such-model"):
                pass
        assert caught.value.kind == "upstream"
        assert "pull model manifest: file does not exist" in caught.value.message
    finally:
        await client.aclose()


@pytest.mark.django_db(transaction=True)
async def test_the_client_maps_management_errors_to_kinds(ollama):
    client = OllamaClient(ollama.url)
    try:
        assert await client.version() == "0.12.6"
        with pytest.raises(OllamaError) as missing:
            await client.delete("nothing-here")
        assert missing.value.kind == "model_not_found"
        with pytest.raises(OllamaError) as missing_source:
            await client.copy(source="nothing-here", destination="other")
        assert missing_source.value.kind == "model_not_found"
    finally:
        await client.aclose()
    down = OllamaClient(closed_port_url())
    try:
        with pytest.raises(OllamaError) as unreachable:
            await down.ps()
        assert unreachable.value.kind == "unreachable"
    finally:
        await down.aclose()
