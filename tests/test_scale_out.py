"""Several daphne workers sharing PostgreSQL and Redis: live replies and model pulls cross workers,
and replies survive one dying.

These run in the PostgreSQL + Redis suite (DATABASE_URL=postgres://…, REDIS_URL=redis://…).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from conversations.models import Conversation, Message
from ollama_models import pulls
from tests.helpers import free_port, session_cookie

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT_SECONDS = 0.2

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL", "").startswith("postgres")),
        reason="needs DATABASE_URL=postgres://… and REDIS_URL (the scale-out suite)",
    ),
]


class Worker:
    """One daphne process on the test database, the shared Redis and the fake Ollama."""

    def __init__(self, ollama_url: str, log_dir: Path, name: str) -> None:
        db = connection.settings_dict
        self.port = free_port()
        self.log = log_dir / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "SECRET_KEY": settings.SECRET_KEY,
            "OLLAMA_HOST": ollama_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATA_DIR": str(log_dir / "data"),
            "REPLY_CHECKPOINT_SECONDS": str(CHECKPOINT_SECONDS),
            "GENERATE_TITLES": "false",
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chatsite.serve", "-b", "127.0.0.1", "-p", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/login/", timeout=1)
                break
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"worker {name} did not start:\n{self.log.read_text()}")
                time.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(ollama, tmp_path):
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(ollama.url, tmp_path, name)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class Tab:
    def __init__(self, socket) -> None:
        self.socket = socket

    async def send(self, **frame) -> None:
        await self.socket.send(json.dumps(frame))

    async def until(self, frame_type: str, timeout: float = 10.0) -> list[dict]:
        frames = []
        async with asyncio.timeout(timeout):
            while True:
                frames.append(json.loads(await self.socket.recv()))
                if frames[-1]["type"] == frame_type:
                    return frames


async def connect(worker: Worker, user, path: str) -> Tab:
    """A socket on `worker` at `path`, signed in as `user`, from the worker's own origin."""
    cookie = await sync_to_async(session_cookie)(user)
    socket = await websockets.connect(
        f"ws://127.0.0.1:{worker.port}{path}",
        additional_headers={"Cookie": f"sessionid={cookie}", "Origin": f"http://127.0.0.1:{worker.port}"},
    )
    return Tab(socket)


@pytest.fixture
async def open_tab():
    tabs: list[Tab] = []

    async def open_one(worker: Worker, user, conversation: Conversation) -> Tab:
        tab = await connect(worker, user, f"/ws/conversations/{conversation.pk}/")
        tabs.append(tab)
        await tab.send(type="sync", after=None)
        await tab.until("history")
        return tab

    yield open_one
    for tab in tabs:
        await tab.socket.close()


def deltas(frames: list[dict]) -> list[tuple[int, str]]:
    return [(frame["seq"], frame["content"]) for frame in frames if frame["type"] == "token"]


async def test_a_tab_on_another_worker_sees_the_same_live_reply(
    ollama, alice, conversation, start_worker, open_tab
):
    first, second = start_worker("one"), start_worker("two")
    tokens = [f"w{i} " for i in range(20)]
    ollama.enqueue_chat(*tokens, delay=0.05)
    sender = await open_tab(first, alice, conversation)
    watcher = await open_tab(second, alice, conversation)

    await sender.send(type="chat", content="count", client_id="x")
    sent = await sender.until("done")
    seen = await watcher.until("done")

    assert deltas(seen) == deltas(sent)
    assert "".join(content for _, content in deltas(seen)) == "".join(tokens)
    assert [f["type"] for f in seen[:2]] == ["message", "reply"]
    assert seen[-1]["message"] == sent[-1]["message"]
    assert seen[-1]["message"]["status"] == "complete"


async def test_stop_from_another_worker_stops_the_reply(ollama, alice, conversation, start_worker, open_tab):
    first, second = start_worker("one"), start_worker("two")
    ollama.enqueue_chat(*[f"w{i} " for i in range(100)], delay=0.1)
    sender = await open_tab(first, alice, conversation)
    stopper = await open_tab(second, alice, conversation)
    await sender.send(type="chat", content="talk")
    await stopper.until("token")

    await stopper.send(type="stop")
    done = (await stopper.until("done"))[-1]["message"]

    assert done["status"] == "stopped"
    assert ollama.chat_requests()[-1].done.wait(2) and ollama.chat_requests()[-1].closed_by_client


LONG_TOKENS = [f"w{i} " for i in range(200)]
LONG_REPLY = "".join(LONG_TOKENS)


async def long_reply_from_first_worker(ollama, alice, conversation, start_worker, open_tab):
    """Two workers; a tab on the first asks for a long reply; a tab on the second watches it start.

    The first worker, the watching tab, and the frames it has seen so far.
    """
    first, second = start_worker("one"), start_worker("two")
    ollama.enqueue_chat(*LONG_TOKENS, delay=0.05)
    sender = await open_tab(first, alice, conversation)
    watcher = await open_tab(second, alice, conversation)
    await sender.send(type="chat", content="talk for a long time")
    return first, watcher, await watcher.until("token")


async def test_a_worker_killed_mid_reply_loses_nothing_and_the_other_tab_is_told(
    ollama, alice, conversation, start_worker, open_tab
):
    first, watcher, seen = await long_reply_from_first_worker(
        ollama, alice, conversation, start_worker, open_tab
    )
    await asyncio.sleep(CHECKPOINT_SECONDS * 3)  # a few checkpoints happen

    first.kill()
    frames = await watcher.until("done", timeout=CHECKPOINT_SECONDS * 15 + 10)

    streamed = "".join(content for _, content in deltas(seen + frames))
    reply = frames[-1]["message"]
    assert reply["status"] == "interrupted"
    assert any(f["type"] == "error" and f["code"] == "interrupted" for f in frames)
    saved = await Message.objects.aget(pk=reply["id"])
    assert saved.status == "interrupted"
    assert saved.content and streamed.startswith(saved.content) and LONG_REPLY.startswith(saved.content)
    assert ollama.chat_requests()[-1].done.wait(5) and ollama.chat_requests()[-1].closed_by_client


async def test_a_worker_told_to_stop_saves_its_reply_with_all_the_text_it_sent_first(
    ollama, alice, conversation, start_worker, open_tab
):
    first, watcher, seen = await long_reply_from_first_worker(
        ollama, alice, conversation, start_worker, open_tab
    )
    for _ in range(5):
        seen += await watcher.until("token")

    first.process.terminate()  # SIGTERM, as a service manager stops a worker
    frames = await watcher.until("done", timeout=10)
    assert first.process.wait(10) == 0

    streamed = "".join(content for _, content in deltas(seen + frames))
    reply = frames[-1]["message"]
    saved = await Message.objects.aget(pk=reply["id"])
    assert reply["status"] == saved.status == "interrupted"
    assert saved.content == streamed and LONG_REPLY.startswith(saved.content)
    assert "The server stopped" in saved.error


async def test_a_restarted_worker_marks_replies_left_streaming_as_interrupted(
    ollama, alice, conversation, start_worker, open_tab
):
    only = start_worker("only")
    ollama.enqueue_chat(*[f"w{i} " for i in range(200)], delay=0.05)
    tab = await open_tab(only, alice, conversation)
    await tab.send(type="chat", content="talk")
    await tab.until("token")
    await asyncio.sleep(CHECKPOINT_SECONDS * 3)
    only.kill()
    assert await Message.objects.filter(status="streaming").aexists()

    restarted = start_worker("restarted")
    httpx.get(f"http://127.0.0.1:{restarted.port}/login/", timeout=5)

    deadline = time.monotonic() + CHECKPOINT_SECONDS * 15 + 10
    while await Message.objects.filter(status="streaming").aexists():
        assert time.monotonic() < deadline, "the reply is still marked streaming"
        await asyncio.sleep(0.2)
    reply = await Message.objects.aget(role="assistant")
    assert reply.status == "interrupted" and reply.content.startswith("w0 ")


# Model pulls ----------------------------------------------------------------


@pytest.fixture
async def open_models_page():
    tabs: list[Tab] = []

    async def open_one(worker: Worker, user) -> tuple[Tab, list[dict]]:
        """A Models page socket on `worker`, and the pulls it was sent on connecting."""
        tab = await connect(worker, user, "/ws/models/")
        tabs.append(tab)
        [first] = await tab.until("pulls")
        return tab, first["pulls"]

    yield open_one
    for tab in tabs:
        await tab.socket.close()


async def progress_with_bytes(tab: Tab) -> dict:
    while True:
        pull = (await tab.until("progress"))[-1]["pull"]
        if pull["completed"]:
            return pull


async def test_a_pull_run_by_one_worker_is_followed_joined_and_cancelled_from_another(
    ollama, admin, start_worker, open_models_page
):
    first, second = start_worker("one"), start_worker("two")
    ollama.pull_delay = 0.3
    starter, _ = await open_models_page(first, admin)
    watcher, before = await open_models_page(second, admin)
    assert before == []

    await starter.send(type="pull", model="tinyllama")
    seen = await progress_with_bytes(watcher)  # live, from the other worker
    assert seen["model"] == "tinyllama:latest" and seen["state"] == "running"

    reloaded, snapshot = await open_models_page(second, admin)
    [pull] = snapshot
    assert pull["id"] == seen["id"] and pull["state"] == "running" and pull["completed"] >= seen["completed"]

    await reloaded.send(type="pull", model="TinyLlama:latest")  # joins the pull on worker one
    await asyncio.sleep(pulls.CLAIM_SECONDS * 1.5)  # longer than a second pull would take to start
    assert len(ollama.requests_to("/api/pull")) == 1

    await reloaded.send(type="cancel", model="tinyllama")
    frames = await reloaded.until("done")
    assert not [frame for frame in frames if frame["type"] == "error"]
    assert {frame["pull"]["id"] for frame in frames} == {seen["id"]}
    done = frames[-1]["pull"]
    assert done["state"] == "cancelled" and 0 < done["percent"] < 100
    for tab in (starter, watcher):
        assert (await tab.until("done"))[-1]["pull"] == done
    [recorded] = ollama.requests_to("/api/pull")
    assert await asyncio.to_thread(recorded.done.wait, 5) and recorded.closed_by_client
    assert ollama.find_model("tinyllama") is None

    await reloaded.send(type="cancel", model="tinyllama")
    assert (await reloaded.until("error"))[-1]["code"] == "not_pulling"
    _, later = await open_models_page(second, admin)
    assert later == [done]


async def test_one_model_pulled_from_two_workers_at_once_is_pulled_once(
    ollama, admin, start_worker, open_models_page
):
    first, second = start_worker("one"), start_worker("two")
    ollama.pull_delay = 0.05
    one, _ = await open_models_page(first, admin)
    two, _ = await open_models_page(second, admin)

    await asyncio.gather(one.send(type="pull", model="tinyllama"), two.send(type="pull", model="tinyllama"))
    frames = await one.until("done") + await two.until("done")

    assert len(ollama.requests_to("/api/pull")) == 1
    assert not [frame for frame in frames if frame["type"] == "error"]
    assert len({frame["pull"]["id"] for frame in frames}) == 1
    assert frames[-1]["pull"]["state"] == "success"


async def test_a_call_waiting_for_approval_is_allowed_from_a_tab_on_another_worker(
    ollama, fake_mcp, alice, conversation, start_worker, open_tab
):
    from conversations.models import ToolServer

    server = await ToolServer.objects.acreate(
        name="fake",
        url=fake_mcp.url,
        ask_first=["echo"],
        state="up",
        tools=[{"name": "echo", "description": "", "parameters": {"type": "object"}}],
    )
    await server.users.aadd(alice)
    conversation.tools = [f"mcp:{server.pk}:echo"]
    await conversation.asave()
    first, second = start_worker("one"), start_worker("two")
    sender = await open_tab(first, alice, conversation)
    approver = await open_tab(second, alice, conversation)

    await sender.send(type="chat", content='[[tool:echo {"text": "across"}]]')
    asked = (await approver.until("tool"))[-1]["call"]
    assert asked["status"] == "asked" and fake_mcp.calls == []
    await approver.send(type="approve", call_id=asked["id"])
    frames = await sender.until("done")

    assert [frame["call"]["status"] for frame in frames if frame["type"] == "tool"][-1] == "ok"
    assert frames[-1]["message"]["content"] == "Round 1. Tool results: echo: across"
    assert fake_mcp.calls == [("echo", {"text": "across"})]
