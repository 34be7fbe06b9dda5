"""An import of the largest allowed size, in a live server, while another user chats: nothing of theirs fails.

The server runs on its own database file (or, in the PostgreSQL suite, its own
PostgreSQL database), with SQLite's lock timeout set short: a write that has
to wait for one long import transaction fails with "database is locked"
instead of queueing quietly behind it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import websockets

from tests.live_server import LiveServer

MESSAGES = 3000
PASSWORD = "a-Long-pass-123"
SERVER_LIMITS = {
    "MAX_IMPORT_MESSAGES": str(MESSAGES),
    "SQLITE_TIMEOUT": "0.5",
    "GENERATE_TITLES": "false",
    "REPLY_CHECKPOINT_SECONDS": "0.2",
}


def full_size_export() -> bytes:
    start = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    messages = []
    for number in range(MESSAGES):
        question = number % 2 == 0
        messages.append(
            {
                "id": f"m{number}",
                "role": "user" if question else "assistant",
                "content": f"Message {number}: " + "some words to make it a real message. " * 50,
                "created_at": (start + timedelta(seconds=number)).isoformat(),
                "reply_to": None if question else f"m{number - 1}",
                "model": "" if question else "llama3.2",
                "stats": {} if question else {"eval_count": 40, "eval_duration": 400_000_000},
            }
        )
    conversation = {
        "title": "A long one",
        "model": "llama3.2",
        "created_at": start.isoformat(),
        "updated_at": (start + timedelta(seconds=MESSAGES)).isoformat(),
        "messages": messages,
    }
    return json.dumps({"format": "ollama-chat-export", "version": 1, "conversation": conversation}).encode()


def signed_in_client(server: LiveServer, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=60)
    client.get("/login/")
    response = client.post(
        "/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
    )
    assert response.status_code == 302, response.text
    client.get("/")  # a fresh CSRF cookie for the signed-in session
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client


@dataclass
class Round:
    """One new chat of the other user: created, asked, answered."""

    import_running_at_start: bool
    import_running_at_end: bool = False
    problems: list[str] = field(default_factory=list)
    reply: dict | None = None


async def frames_until(socket, frame_type: str, problems: list[str], timeout: float = 30.0) -> list[dict]:
    frames: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await socket.recv())
            frames.append(frame)
            if frame["type"] == "error":
                problems.append(frame["message"])
            if frame["type"] == frame_type:
                return frames


async def open_socket(server: LiveServer, client: httpx.Client, conversation_id: str):
    return await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/conversations/{conversation_id}/",
        additional_headers={"Cookie": f"sessionid={client.cookies['sessionid']}", "Origin": server.url},
    )


async def new_chat(server: LiveServer, bob: httpx.Client, importing: asyncio.Task) -> Round:
    chat = Round(import_running_at_start=not importing.done())
    created = await asyncio.to_thread(bob.post, "/c/new/", json={"model": "llama3.2"})
    if created.status_code != 201:
        chat.problems.append(f"starting a chat answered {created.status_code}")
        return chat
    socket = await open_socket(server, bob, created.json()["id"])
    try:
        await socket.send(json.dumps({"type": "chat", "content": "Hello there", "client_id": "c1"}))
        done = await frames_until(socket, "done", chat.problems)
        chat.reply = done[-1]["message"]
    except TimeoutError:
        chat.problems.append("no reply in time")
    finally:
        await socket.close()
    chat.import_running_at_end = not importing.done()
    return chat


async def test_a_full_size_import_leaves_another_users_replies_and_new_chats_alone(
    start_live_server, fake_ollama_server, monkeypatch
):
    for name, value in SERVER_LIMITS.items():
        monkeypatch.setenv(name, value)
    fake_ollama_server.reset()
    server = await asyncio.to_thread(start_live_server, fake_ollama_server.url)
    create_users = "from django.contrib.auth.models import User; " + "; ".join(
        f"User.objects.create_user({name!r}, password={PASSWORD!r})" for name in ("alice", "bob")
    )
    await asyncio.to_thread(server.manage, "shell", "-c", create_users)
    alice = await asyncio.to_thread(signed_in_client, server, "alice")
    bob = await asyncio.to_thread(signed_in_client, server, "bob")
    export = full_size_export()

    # Bob's long reply streams (and is checkpointed) all through the import.
    first = (await asyncio.to_thread(bob.post, "/c/new/", json={"model": "llama3.2"})).json()
    fake_ollama_server.enqueue_chat(*[f"word{n} " for n in range(40)], delay=0.1)
    long_reply_problems: list[str] = []
    socket = await open_socket(server, bob, first["id"])
    await socket.send(json.dumps({"type": "chat", "content": "Tell me a long story", "client_id": "long"}))
    await frames_until(socket, "reply", long_reply_problems)

    importing = asyncio.create_task(
        asyncio.to_thread(alice.post, "/c/import/", files={"file": ("long.json", export, "application/json")})
    )
    rounds = [await new_chat(server, bob, importing)]
    while not importing.done():
        rounds.append(await new_chat(server, bob, importing))
    imported = await importing
    long_done = await frames_until(socket, "done", long_reply_problems)
    await socket.close()

    assert imported.status_code == 201, imported.text
    problems = [problem for chat in rounds for problem in chat.problems] + long_reply_problems
    assert problems == [], problems
    assert all(chat.reply["status"] == "complete" for chat in rounds)
    assert long_done[-1]["message"]["status"] == "complete"
    assert long_done[-1]["message"]["content"] == "".join(f"word{n} " for n in range(40))
    # Some of Bob's chats started and finished while the import was being written.
    assert any(chat.import_running_at_start and chat.import_running_at_end for chat in rounds), len(rounds)

    saved = (await asyncio.to_thread(bob.get, f"/c/{first['id']}/messages/")).json()["messages"]
    assert [(m["role"], m["status"]) for m in saved] == [("user", "complete"), ("assistant", "complete")]
    copy = (await asyncio.to_thread(alice.get, f"/c/{imported.json()['id']}/export.json")).json()
    assert len(copy["conversation"]["messages"]) == MESSAGES
    alice.close()
    bob.close()
