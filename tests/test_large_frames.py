"""Frames the transport would refuse are never built: long replies, long messages and large
histories reach every tab whole, through the real server (daphne refuses messages over its limit)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets

from tests.live_server import LiveServer, signed_up

MODEL = "llama3.2:latest"


@pytest.fixture
def server(start_live_server, ollama) -> LiveServer:
    return start_live_server(ollama.url)


class Tab:
    """A browser-like socket: joins `part` frames the way the page does, and counts them."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.parts = 0
        self.largest = 0

    async def frame(self, timeout: float = 30.0) -> dict:
        joined = ""
        while True:
            raw = await asyncio.wait_for(self.socket.recv(), timeout)
            self.largest = max(self.largest, len(raw.encode()))
            frame = json.loads(raw)
            if frame["type"] != "part":
                return frame
            self.parts += 1
            joined += frame["data"]
            if frame["last"]:
                return json.loads(joined)

    async def until(self, kind: str) -> list[dict]:
        frames = []
        while True:
            frames.append(await self.frame())
            if frames[-1]["type"] == kind:
                return frames

    async def send(self, **frame) -> None:
        await self.socket.send(json.dumps(frame))


@contextlib.asynccontextmanager
async def tab(server: LiveServer, client, path: str):
    headers = {"Cookie": f"sessionid={client.cookies['sessionid']}", "Origin": server.url}
    async with websockets.connect(
        f"ws://127.0.0.1:{server.port}{path}", additional_headers=headers, max_size=None
    ) as socket:
        yield Tab(socket)


def new_conversation(client) -> str:
    created = client.post(
        "/c/new/", json={"model": MODEL}, headers={"X-CSRFToken": client.cookies["csrftoken"]}
    )
    assert created.status_code == 201, created.text
    return created.json()["ws_path"]


def test_a_reply_of_1_5_mb_reaches_two_tabs_whole(server, ollama):
    tokens = [f"{index:06d} " + "x" * 93 + "\n" for index in range(15_000)]  # 1.5 MB
    ollama.enqueue_chat(*tokens)
    with contextlib.closing(signed_up(server)) as client:
        path = new_conversation(client)

        async def run() -> None:
            async with tab(server, client, path) as first, tab(server, client, path) as second:
                await first.send(type="chat", content="Write a lot")
                streams = await asyncio.gather(first.until("done"), second.until("done"))
                for frames in streams:
                    text = "".join(f["content"] for f in frames if f["type"] == "token")
                    done = frames[-1]["message"]
                    assert text == "".join(tokens) == done["content"]
                    assert done["status"] == "complete" and len(done["html"]) > 1_500_000
                assert first.parts and second.parts  # the done frame went in parts
                # A tab that comes later gets it from the history, whole.
                async with tab(server, client, path) as third:
                    await third.send(type="sync", after=None)
                    history = await third.until("history")
                    assert history[-1]["messages"][-1]["content"] == "".join(tokens)
                    await third.send(type="ping")
                    assert (await third.frame())["type"] == "pong"
                for each in (first, second, third):
                    assert each.largest <= 256 * 1024

        asyncio.run(run())


def test_a_message_of_100000_emoji_reaches_every_tab_whole(server, ollama):
    ollama.enqueue_chat("Nice ", "emoji.")
    text = "😀" * 100_000
    with contextlib.closing(signed_up(server)) as client:
        path = new_conversation(client)

        async def run() -> None:
            async with tab(server, client, path) as first, tab(server, client, path) as second:
                # Escaped as a Python client escapes it: 1.2 MB of JSON for 100,000 characters.
                await first.socket.send(json.dumps({"type": "chat", "content": text}))
                for each in (first, second):
                    frames = await each.until("done")
                    saved = next(f for f in frames if f["type"] == "message")
                    assert saved["message"]["content"] == text
                    assert frames[-1]["message"]["status"] == "complete"

        asyncio.run(run())


def test_a_frame_just_over_the_limit_gets_the_error_and_the_socket_stays(server, settings):
    over = settings.MAX_FRAME_BYTES + 1 - len(json.dumps({"type": "chat", "content": ""}))
    with contextlib.closing(signed_up(server)) as client:
        path = new_conversation(client)

        async def run() -> None:
            async with tab(server, client, path) as only:
                await only.socket.send(json.dumps({"type": "chat", "content": "x" * over}))
                refused = await only.frame()
                assert refused["type"] == "error" and refused["code"] == "bad_frame"
                assert "too large" in refused["message"]
                await only.send(type="ping")
                assert (await only.frame())["type"] == "pong"

        asyncio.run(run())


SEED_LONG_CONVERSATION = """
from django.contrib.auth import get_user_model
from conversations.models import Conversation, Message
import uuid
user = get_user_model().objects.get(username="alice")
conversation = Conversation.objects.create(owner=user, model="llama3.2:latest", title="Long")
body = "y" * 500_000
for index in range(29):
    question = Message.objects.create(conversation=conversation, role="user", content=f"q{index}")
    Message.objects.create(conversation=conversation, role="assistant", content=f"a{index} " + body,
                           reply_to=question, exchange=question.exchange)
question = Message.objects.create(conversation=conversation, role="user", content="last")
for version in (1, 2):
    Message.objects.create(conversation=conversation, role="assistant", content=f"v{version} " + body,
                           reply_to=question, exchange=question.exchange, version=version,
                           active=version == 2)
print(conversation.pk)
"""


def test_switching_versions_in_a_30_mb_conversation_reaches_every_tab(server):
    with contextlib.closing(signed_up(server)) as client:
        server.manage("shell", "-c", SEED_LONG_CONVERSATION)
        listed = client.get("/c/", params={"q": "Long"}).json()["groups"][0]["conversations"][0]
        path = f"/ws/conversations/{listed['id']}/"
        first_version = client.get(f"/c/{listed['id']}/messages/").json()["messages"]

        async def run() -> None:
            async with tab(server, client, path) as first, tab(server, client, path) as second:
                await first.send(type="sync", after=None)
                shown = (await first.until("history"))[-1]
                assert shown["reset"] and shown["has_more"]
                assert shown["messages"][-1]["content"].startswith("v2 ")
                older = next(m for m in first_version if m["content"].startswith("v2 "))
                versions = older["version_ids"]
                await first.send(type="switch_version", message_id=versions[0])
                for each in (first, second):
                    history = (await each.until("history"))[-1]
                    assert history["reset"] and history["has_more"]
                    assert history["messages"][-1]["content"] == "v1 " + "y" * 500_000
                    assert sum(len(m["content"]) for m in history["messages"]) <= 2_100_000
                    assert each.largest <= 256 * 1024
                await second.send(type="ping")
                assert (await second.frame())["type"] == "pong"

        asyncio.run(run())
