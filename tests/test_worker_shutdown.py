"""A worker told to stop (SIGTERM, as a service manager does) saves its replies and exits promptly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sqlite3
import threading
import time

import httpx
import pytest
import websockets

from tests.live_server import POSTGRES_URL, LiveServer, signed_up

pytestmark = pytest.mark.skipif(bool(POSTGRES_URL), reason="reads the live server's SQLite file")


def stop(server: LiveServer) -> tuple[int, float]:
    """SIGTERM; the exit code and how long the process took to go."""
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(20)
    return code, time.monotonic() - started


@pytest.fixture
def silent_ollama():
    """Something on a port that accepts connections and never answers, like a stuck Ollama."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop_accepting = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop_accepting.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop_accepting.set()
    thread.join(2)
    for connection in held:
        connection.close()
    listener.close()


def test_a_request_waiting_on_ollama_does_not_hold_up_a_stop(start_live_server, silent_ollama):
    server = start_live_server(silent_ollama)
    with contextlib.closing(signed_up(server)) as client:
        waiting = threading.Thread(target=lambda: _swallow(client.get, "/api/models/", timeout=30))
        waiting.start()
        time.sleep(1.0)  # the request is in the app, waiting on "Ollama"

        code, seconds = stop(server)
        server.proc = None
        waiting.join(5)

    assert code == 0
    assert seconds < 5, f"the worker took {seconds:.1f} s to stop"


def _swallow(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except httpx.HTTPError:
        pass  # the stopping server closes the connection


def test_a_stopped_worker_keeps_all_the_text_it_sent(start_live_server, ollama):
    ollama.enqueue_chat(*[f"w{i} " for i in range(200)], delay=0.05)
    server = start_live_server(ollama.url)
    with contextlib.closing(signed_up(server)) as client:
        created = client.post(
            "/c/new/", json={"model": "llama3.2:latest"}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
        ).json()
        streamed, status = asyncio.run(_chat_then_stop(server, client, created["ws_path"]))
        server.proc = None

    database = sqlite3.connect(server.env["DATA_DIR"] + "/db.sqlite3")
    saved = database.execute(
        "SELECT status, content, error FROM conversations_message WHERE role = 'assistant'"
    ).fetchall()
    database.close()
    assert status == 0
    assert len(saved) == 1
    reply_status, content, error = saved[0]
    assert reply_status == "interrupted" and "The server stopped" in error
    assert content == streamed and content.startswith("w0 w1 w2 w3 w4 ")


async def _chat_then_stop(server: LiveServer, client: httpx.Client, path: str) -> tuple[str, int]:
    """Send a question, let some of the reply stream, stop the worker: the text the tab saw, the exit code."""
    headers = {"Cookie": f"sessionid={client.cookies['sessionid']}", "Origin": server.url}
    async with websockets.connect(f"ws://127.0.0.1:{server.port}{path}", additional_headers=headers) as tab:
        await tab.send(json.dumps({"type": "chat", "content": "Count slowly"}))
        streamed, tokens = "", 0
        while tokens < 5:
            frame = json.loads(await tab.recv())
            if frame["type"] == "token":
                streamed, tokens = streamed + frame["content"], tokens + 1
        code, _ = await asyncio.to_thread(stop, server)
        try:
            async for raw in tab:  # what the worker sent before it went
                frame = json.loads(raw)
                if frame["type"] == "token":
                    streamed += frame["content"]
        except websockets.ConnectionClosed:
            pass
    return streamed, code
