"""The Models page: the fake's management API, the client, the JSON views and the models socket."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import AsyncClient, Client

from conversations import pulls
from conversations.ollama import OllamaClient, OllamaError
from tests.conftest import receive_until, send, session_cookie
from tests.fake_ollama import running_model

PULL_LINE = re.compile(r"^pulling [0-9a-f]{12}$")


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_user("admin", password="admin-password", is_staff=True)


def post(client: Client, url: str, data: object) -> HttpResponse:
    return client.post(url, json.dumps(data), content_type="application/json")


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


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


# The page and its JSON endpoints ------------------------------------------


@pytest.mark.django_db
def test_the_page_needs_sign_in(client, alice):
    response = client.get("/models/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_staff_see_the_pull_form_and_others_do_not(client, alice, admin):
    client.force_login(admin)
    page = client.get("/models/").content.decode()
    assert "<h1>Models</h1>" in page and 'href="/"' in page
    assert 'id="pull-form"' in page and 'id="delete-dialog"' in page and 'id="copy-dialog"' in page
    assert "js/models-page.js" in page and "css/models.css" in page
    assert 'name="csrfmiddlewaretoken"' in page

    client.force_login(alice)
    page = client.get("/models/").content.decode()
    assert "<h1>Models</h1>" in page
    assert 'id="pull-form"' not in page and "delete-dialog" not in page and "copy-dialog" not in page
    assert '"is_staff": false' in page
    assert "style=" not in page and "<script>" not in page


@pytest.mark.django_db
def test_it_lists_installed_models_with_badges_fresh_each_time(client, alice, ollama):
    client.force_login(alice)
    models = client.get("/models/installed/").json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest", "llava:7b", "qwen3:8b"]
    assert models[0] == {
        "name": "llama3.2:latest",
        "size": 2019393189,
        "modified_at": "2025-02-01T09:15:00.5-08:00",
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "family": "llama",
        "parameter_size": "3.2B",
        "quantization": "Q4_K_M",
        "capabilities": ["completion", "tools"],
    }
    assert models[2]["capabilities"] == ["completion", "tools", "thinking"]

    ollama.models.pop()
    assert len(client.get("/models/installed/").json()["models"]) == 2  # /api/tags is not cached
    shows = len(ollama.requests_to("/api/show"))
    client.get("/models/installed/")
    assert len(ollama.requests_to("/api/show")) == shows  # the badges are


@pytest.mark.django_db
def test_it_reports_ollamas_version_or_that_it_is_unreachable(client, alice, ollama, settings):
    client.force_login(alice)
    assert client.get("/models/status/").json() == {
        "reachable": True,
        "version": "0.12.6",
        "host": ollama.url,
        "error": "",
    }
    settings.OLLAMA_HOST = closed_port_url()
    status = client.get("/models/status/").json()
    assert status["reachable"] is False and "Cannot reach Ollama" in status["error"]
    response = client.get("/models/installed/")
    assert response.status_code == 502 and response.json()["error"]["code"] == "unreachable"


@pytest.mark.django_db
def test_it_shows_a_models_details(client, alice, ollama):
    client.force_login(alice)
    details = client.get("/models/details/", {"model": "llava:7b"}).json()
    assert details["context_length"] == 32768
    assert details["parameters"].startswith("stop ")
    assert details["template"] == "{{ .Prompt }}"
    assert details["license"] == "Example licence text"
    assert "vision" in details["capabilities"]

    assert client.get("/models/details/", {"model": "nope"}).status_code == 404
    assert client.get("/models/details/", {"model": "bad name!"}).status_code == 400
    assert client.get("/models/details/").status_code == 400


@pytest.mark.django_db
def test_running_models_show_sizes_and_when_they_unload(client, alice, ollama):
    ollama.running.append(running_model("llama3.2:latest", expires_in=240))
    client.force_login(alice)
    [model] = client.get("/models/running/").json()["models"]
    assert model["name"] == "llama3.2:latest"
    assert model["size"] == 3_000_000_000 and model["size_vram"] == 3_000_000_000
    assert model["expires_at"] == ollama.running[0]["expires_at"]


@pytest.mark.django_db
def test_any_user_can_load_and_unload_and_gets_the_new_running_list(client, alice, ollama):
    client.force_login(alice)
    loaded = post(client, "/models/load/", {"model": "llama3.2"})
    assert loaded.status_code == 200
    assert [m["name"] for m in loaded.json()["running"]] == ["llama3.2:latest"]
    assert ollama.chat_requests()[-1].json == {"model": "llama3.2", "messages": []}

    unloaded = post(client, "/models/unload/", {"model": "llama3.2"})
    assert unloaded.status_code == 200 and unloaded.json()["running"] == []
    assert ollama.chat_requests()[-1].json == {"model": "llama3.2", "messages": [], "keep_alive": 0}


@pytest.mark.django_db
def test_load_refuses_bad_input_and_reports_unknown_models(client, alice, ollama):
    client.force_login(alice)
    assert post(client, "/models/load/", {"model": "x y"}).status_code == 400
    assert post(client, "/models/load/", ["llama3.2"]).status_code == 400
    assert client.post("/models/load/", "{", content_type="application/json").status_code == 400
    assert client.get("/models/load/").status_code == 405
    missing = post(client, "/models/unload/", {"model": "ghost"})
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "code": "model_not_found",
        "message": "Ollama has no model named ghost.",
    }


@pytest.mark.django_db
def test_staff_delete_a_model(client, admin, ollama):
    client.force_login(admin)
    client.get("/models/installed/")  # the badges are now cached
    response = post(client, "/models/delete/", {"model": "llava:7b"})

    assert response.status_code == 200 and response.json() == {"deleted": "llava:7b"}
    assert ollama.requests_to("/api/delete")[-1].method == "DELETE"
    assert ollama.requests_to("/api/delete")[-1].json == {"model": "llava:7b"}
    assert [m["name"] for m in client.get("/models/installed/").json()["models"]] == [
        "llama3.2:latest",
        "qwen3:8b",
    ]
    assert post(client, "/models/delete/", {"model": "llava:7b"}).status_code == 404


@pytest.mark.django_db
def test_staff_copy_a_model_under_a_new_name(client, admin, ollama):
    client.force_login(admin)
    response = post(client, "/models/copy/", {"source": "llama3.2", "destination": "my-llama"})

    assert response.status_code == 201
    assert ollama.requests_to("/api/copy")[-1].json == {"source": "llama3.2", "destination": "my-llama"}
    models = {m["name"]: m for m in client.get("/models/installed/").json()["models"]}
    assert models["my-llama:latest"]["capabilities"] == ["completion", "tools"]
    assert post(client, "/models/copy/", {"source": "ghost", "destination": "x"}).status_code == 404
    assert post(client, "/models/copy/", {"source": "llama3.2", "destination": ""}).status_code == 400
    assert post(client, "/models/copy/", {"source": "llama3.2"}).status_code == 400


@pytest.mark.django_db
def test_only_staff_may_delete_or_copy(client, alice, ollama):
    client.force_login(alice)
    deleted = post(client, "/models/delete/", {"model": "llava:7b"})
    copied = post(client, "/models/copy/", {"source": "llama3.2", "destination": "mine"})

    assert deleted.status_code == 403 and deleted.json() == {"error": "Only staff can do that."}
    assert copied.status_code == 403
    assert not ollama.requests_to("/api/delete") and not ollama.requests_to("/api/copy")
    assert ollama.find_model("llava:7b") is not None


@pytest.mark.django_db
def test_changes_need_the_csrf_token(admin, ollama):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    for url, body in [
        ("/models/load/", {"model": "llama3.2"}),
        ("/models/delete/", {"model": "llava:7b"}),
        ("/models/copy/", {"source": "llama3.2", "destination": "x"}),
    ]:
        assert post(client, url, body).status_code == 403, url
    assert not ollama.chat_requests() and ollama.find_model("llava:7b") is not None


# The models socket and server-side pulls ----------------------------------


@pytest.fixture
async def models_socket():
    """Opens /ws/models/ sockets; afterwards closes them and ends every pull."""
    from chatsite.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_socket(user) -> WebsocketCommunicator:
        headers = [(b"origin", b"http://testserver")]
        if user is not None:
            cookie = await sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        socket = WebsocketCommunicator(application, "/ws/models/", headers=headers)
        ok, _ = await socket.connect(timeout=5)
        assert ok
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.disconnect()
    for pull in list(pulls._pulls.values()):
        if pull.task is not None and not pull.task.done():
            pull.task.cancel()
            await asyncio.wait([pull.task], timeout=5)
    pulls._pulls.clear()


async def wait_for_request_end(recorded, timeout: float = 5.0) -> None:
    assert await asyncio.to_thread(recorded.done.wait, timeout)


def progress_of(frames: list[dict]) -> list[dict]:
    return [frame["pull"] for frame in frames if frame["type"] == "progress"]


async def progress_with_bytes(socket: WebsocketCommunicator) -> dict:
    """The first progress event with some bytes downloaded."""
    while True:
        pull = (await receive_until(socket, "progress"))[-1]["pull"]
        if pull["completed"]:
            return pull


@pytest.mark.django_db(transaction=True)
async def test_the_socket_closes_4401_without_sign_in(models_socket):
    socket = await models_socket(None)
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_staff_pull_streams_progress_to_done_and_reaches_the_picker(models_socket, admin, ollama):
    socket = await models_socket(admin)
    assert await socket.receive_json_from() == {"type": "pulls", "pulls": []}

    await send(socket, type="pull", model="tinyllama")
    frames = await receive_until(socket, "done")

    progress = progress_of(frames)
    assert progress[0]["model"] == "tinyllama:latest" and progress[0]["state"] == "running"
    done = frames[-1]["pull"]
    assert done["state"] == "success" and done["status"] == "success" and done["percent"] == 100
    assert done["error"] == "" and done["completed"] == done["total"] == 637700138
    assert len(done["layers"]) == 4
    assert all(layer["completed"] == layer["total"] for layer in done["layers"])
    assert ollama.requests_to("/api/pull")[-1].json == {"model": "tinyllama:latest", "stream": True}
    client = AsyncClient()
    await client.aforce_login(admin)
    picker = (await client.get("/api/models/")).json()["models"]
    assert "tinyllama:latest" in [m["name"] for m in picker]


@pytest.mark.django_db(transaction=True)
async def test_progress_is_coalesced(models_socket, admin, ollama):
    socket = await models_socket(admin)
    await socket.receive_json_from()

    await send(socket, type="pull", model="tinyllama")  # the fake sends 19 lines at once
    frames = await receive_until(socket, "done")

    assert len(progress_of(frames)) <= 3
    seqs = [frame["pull"]["seq"] for frame in frames]
    assert seqs == sorted(seqs)


@pytest.mark.django_db(transaction=True)
async def test_a_wrong_name_ends_with_ollamas_error(models_socket, admin, ollama):
    socket = await models_socket(admin)
    await socket.receive_json_from()

    await send(socket, type="pull", model="no-such-model")
    done = (await receive_until(socket, "done"))[-1]["pull"]

    assert done["state"] == "error" and done["percent"] == 0
    assert done["error"] == "Ollama reported an error: pull model manifest: file does not exist"

    await send(socket, type="pull", model="a//b")  # passes our check, not Ollama's
    done = (await receive_until(socket, "done"))[-1]["pull"]
    assert done["error"] == "Ollama reported an error (400): invalid model name"


@pytest.mark.django_db(transaction=True)
async def test_cancel_closes_the_connection_and_stops_the_pull(models_socket, admin, ollama):
    ollama.pull_delay = 0.2
    socket = await models_socket(admin)
    await socket.receive_json_from()
    await send(socket, type="pull", model="tinyllama")
    await progress_with_bytes(socket)

    await send(socket, type="cancel", model="tinyllama:latest")
    done = (await receive_until(socket, "done"))[-1]["pull"]

    assert done["state"] == "cancelled" and 0 < done["percent"] < 100
    recorded = ollama.requests_to("/api/pull")[-1]
    await wait_for_request_end(recorded)
    assert recorded.closed_by_client
    assert ollama.find_model("tinyllama") is None
    await send(socket, type="cancel", model="tinyllama")
    assert (await socket.receive_json_from())["code"] == "not_pulling"


@pytest.mark.django_db(transaction=True)
async def test_a_reloaded_page_picks_up_a_running_pull(models_socket, admin, ollama):
    ollama.pull_delay = 0.1
    first = await models_socket(admin)
    await first.receive_json_from()
    await send(first, type="pull", model="tinyllama")
    seen = await progress_with_bytes(first)
    await first.disconnect()  # the page is reloaded

    second = await models_socket(admin)
    snapshot = await second.receive_json_from()
    [pull] = snapshot["pulls"]
    assert snapshot["type"] == "pulls" and pull["state"] == "running"
    assert pull["id"] == seen["id"] and pull["completed"] >= seen["completed"]
    done = (await receive_until(second, "done"))[-1]["pull"]
    assert done["state"] == "success" and done["id"] == seen["id"]
    assert len(ollama.requests_to("/api/pull")) == 1  # the same pull went on

    third = await models_socket(admin)
    assert (await third.receive_json_from())["pulls"][0]["state"] == "success"


@pytest.mark.django_db(transaction=True)
async def test_a_second_pull_of_the_same_model_joins_the_first(models_socket, admin, ollama):
    ollama.pull_delay = 0.05
    socket = await models_socket(admin)
    await socket.receive_json_from()

    await send(socket, type="pull", model="tinyllama")
    await send(socket, type="pull", model="TinyLlama:latest")
    frames = await receive_until(socket, "done")

    assert len({frame["pull"]["id"] for frame in frames}) == 1
    assert len(ollama.requests_to("/api/pull")) == 1


@pytest.mark.django_db(transaction=True)
async def test_only_staff_may_pull_or_cancel_but_everyone_watches(models_socket, alice, admin, ollama):
    ollama.pull_delay = 0.1
    watcher = await models_socket(alice)
    await watcher.receive_json_from()

    await send(watcher, type="pull", model="tinyllama")
    assert await watcher.receive_json_from() == {
        "type": "error",
        "code": "forbidden",
        "message": "Only staff can pull models.",
    }
    assert not ollama.requests_to("/api/pull")

    staff = await models_socket(admin)
    await staff.receive_json_from()
    await send(staff, type="pull", model="tinyllama")
    await receive_until(watcher, "progress")
    await send(watcher, type="cancel", model="tinyllama")
    frames = await receive_until(watcher, "done")

    assert [frame["code"] for frame in frames if frame["type"] == "error"] == ["forbidden"]
    assert frames[-1]["pull"]["state"] == "success"


@pytest.mark.django_db(transaction=True)
async def test_the_socket_rejects_bad_frames(models_socket, admin, ollama):
    socket = await models_socket(admin)
    await socket.receive_json_from()

    for frame, code in [
        ({"type": "pull", "model": "bad name"}, "invalid"),
        ({"type": "pull"}, "invalid"),
        ({"type": "cancel", "model": 3}, "invalid"),
        ({"type": "dance"}, "bad_frame"),
        ([1, 2], "bad_frame"),
    ]:
        await socket.send_to(text_data=json.dumps(frame))
        assert (await socket.receive_json_from())["code"] == code, frame
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from())["code"] == "bad_frame"
    await socket.send_to(text_data=json.dumps({"type": "pull", "model": "x" * 5000}))
    assert (await socket.receive_json_from())["code"] == "bad_frame"
    await send(socket, type="ping")
    assert await socket.receive_json_from() == {"type": "pong"}
    assert not ollama.requests_to("/api/pull")
