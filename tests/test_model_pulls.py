"""Pulling models over the models socket: progress to done, errors, cancel, rejoining, and who may pull."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from ollama_models import pulls
from tests.helpers import open_path, receive_until, send


@pytest.fixture
async def models_socket():
    """Opens /ws/models/ sockets; afterwards closes them and ends every pull."""
    opened: list[WebsocketCommunicator] = []

    async def open_socket(user) -> WebsocketCommunicator:
        socket = await open_path(user, "/ws/models/")
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
