"""One pull = one task on one worker: stream Ollama's progress, keep it in memory, publish it.

A pull belongs to no request or socket, so it goes on when the page that
started it is closed or reloaded. Its progress goes to the `pulls` group, which
every Models page socket joins, on whichever worker it is. Each worker keeps
the pulls it runs; what is asked about pulls (the state of all of them, whether
a model is being pulled, cancel one) goes to the control group, where every
worker's listener answers for its own. Only this module sends pull events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from channels.layers import InMemoryChannelLayer, get_channel_layer

from conversations.ollama import catalog
from conversations.ollama.client import OllamaError, full_name, get_client

logger = logging.getLogger(__name__)

# Every Models page socket, on any worker, is in GROUP and sees every pull.
# Each worker's pull listener is in CONTROL_GROUP: requests about pulls go
# there, and the worker that runs a pull answers for it.
GROUP = "pulls"
CONTROL_GROUP = "pulls.control"
PUBLISH_SECONDS = 0.1  # at most ten progress events a second per pull
KEEP_FINISHED_SECONDS = 600.0
# How long a question to the control group waits for answers. With Redis no
# worker knows how many others there are, so a question nobody answers "yes"
# takes this long: the first frame of a Models page, or a `not_pulling`. A
# worker that answers later than this is not heard.
ANSWER_SECONDS = 0.25
# Before a pull starts, the other workers are asked for longer whether one pulls the
# model already: an answer later than this means a second pull (see start()), and a
# pull takes minutes anyway.
CLAIM_SECONDS = 1.0
# The channel layers drop group members after a day (group_expiry); the
# listener joins the control group again well before that.
REJOIN_SECONDS = 3600.0

PullState = Literal["running", "success", "error", "cancelled"]


class LayerData(TypedDict):
    digest: str
    status: str
    completed: int
    total: int


class PullData(TypedDict):
    id: str
    model: str
    state: PullState
    status: str
    error: str
    completed: int
    total: int
    percent: int
    layers: list[LayerData]
    seq: int


@dataclass
class Pull:
    model: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: PullState = "running"
    status: str = "starting"
    error: str = ""
    layers: dict[str, LayerData] = field(default_factory=dict)
    seq: int = 0
    started_at: float = field(default_factory=time.time)  # wall clock: compared across workers
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def data(self) -> PullData:
        completed = sum(layer["completed"] for layer in self.layers.values())
        total = sum(layer["total"] for layer in self.layers.values())
        if self.state == "success":
            percent = 100
        else:  # 100 only once Ollama says success: verifying can take a while
            percent = min(completed * 100 // total, 99) if total else 0
        return {
            "id": self.id,
            "model": self.model,
            "state": self.state,
            "status": self.status,
            "error": self.error,
            "completed": completed,
            "total": total,
            "percent": percent,
            "layers": [LayerData(**layer) for layer in self.layers.values()],
            "seq": self.seq,
        }

    def apply(self, progress: dict[str, Any]) -> None:
        self.status = str(progress.get("status") or self.status)
        digest = progress.get("digest")
        if isinstance(digest, str) and digest:
            layer = self.layers.setdefault(
                digest, {"digest": digest, "status": "", "completed": 0, "total": 0}
            )
            layer["status"] = self.status
            # Ollama leaves completed and total out while they are 0.
            layer["total"] = _count(progress.get("total"), layer["total"])
            layer["completed"] = _count(progress.get("completed"), layer["completed"])
        self.changed.set()


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


# Pulls started by this worker, by normalised model name; finished ones stay a while.
_pulls: dict[str, Pull] = {}
# Pulls about to start here while the other workers are asked about the model:
# model name -> the id the pull will have.
_claims: dict[str, str] = {}
# Starts in progress, held here so that one goes on when the socket that asked closes.
_starting: set[asyncio.Task[None]] = set()


def _key(model: str) -> str:
    return full_name(model).lower()


def is_running(model: str) -> bool:
    """Whether this worker is pulling `model`."""
    pull = _pulls.get(_key(model))
    return pull is not None and pull.state == "running"


async def snapshot() -> list[PullData]:
    """Every pull running, or finished in the last KEEP_FINISHED_SECONDS, on any worker.

    One per model (a running one first, else the latest), oldest first.
    """
    latest: dict[str, tuple[tuple[bool, float], PullData]] = {}
    for answer in await _ask({"type": "pulls.sync"}):
        for entry in answer.get("pulls", []):
            pull, rank = entry["pull"], (entry["pull"]["state"] == "running", entry["started"])
            key = pull["model"].lower()
            if key not in latest or rank > latest[key][0]:
                latest[key] = (rank, pull)
    return [pull for _, pull in sorted(latest.values(), key=lambda item: item[0][1])]


async def start(model: str) -> None:
    """Start pulling `model`, unless a worker (this one or another) is pulling it already.

    A page that asks follows the running pull through the `pulls` group, as
    every page does. The pull goes on if the page is closed meanwhile.
    """
    key = _key(model)
    if key in _claims or is_running(key):
        return
    claim = uuid.uuid4().hex
    _claims[key] = claim
    task = asyncio.create_task(_start_unless_running(key, full_name(model), claim))
    _starting.add(task)
    task.add_done_callback(_starting.discard)
    await asyncio.shield(task)


async def _start_unless_running(key: str, model: str, claim: str) -> None:
    # Two workers that claim one model at the same time each hear the other's
    # claim, and the smaller claim wins (see _answer). What is left: a worker
    # that answers later than CLAIM_SECONDS (stalled, or Redis slow) is not
    # heard, and the model is pulled twice. Ollama shares one download between
    # concurrent pulls of a model, so this costs a second request, and the page
    # shows one pull per model (snapshot() keeps one; the page keys pulls by model).
    try:
        answers = await _ask(
            {"type": "pulls.find", "model": key, "claim": claim}, until_found=True, seconds=CLAIM_SECONDS
        )
    finally:
        del _claims[key]
    if any(answer.get("found") for answer in answers):
        return
    pull = Pull(model=model, id=claim)
    _pulls[key] = pull
    await _publish(pull, "pull.progress")
    pull.task = asyncio.create_task(_run(pull), name=f"pull-{pull.model}")


async def cancel(model: str) -> bool:
    """Cancel the pull of `model` on whichever worker runs it; false if none does.

    That worker cancels the pull's task, which closes the connection to Ollama
    and so ends the download, and tells every page.
    """
    answers = await _ask({"type": "pulls.cancel", "model": _key(model)}, until_found=True)
    return any(answer.get("found") for answer in answers)


async def _run(pull: Pull) -> None:
    publisher = asyncio.create_task(_publish_loop(pull))
    try:
        async for progress in get_client().pull(pull.model):
            pull.apply(progress)
        pull.state = "success"
    except asyncio.CancelledError:
        pull.state, pull.status = "cancelled", "cancelled"
    except OllamaError as exc:
        pull.state, pull.error = "error", exc.message
    except Exception:  # never leave a pull "running" behind
        logger.exception("Pull of %s failed", pull.model)
        pull.state, pull.error = "error", "The pull failed because of a problem on the server. Try again."
    finally:
        publisher.cancel()
        pull.finished_at = time.monotonic()
        # What Ollama has changed: the badges and details must be read again,
        # here and (before the pages hear of it) on every other worker.
        catalog.forget()
        try:
            await get_channel_layer().group_send(CONTROL_GROUP, {"type": "pulls.changed"})
        except Exception:
            logger.warning("Could not tell the other workers that %s changed", pull.model)
        await _publish(pull, "pull.done")


async def _publish_loop(pull: Pull) -> None:
    while True:
        await pull.changed.wait()
        pull.changed.clear()
        await _publish(pull, "pull.progress")
        await asyncio.sleep(PUBLISH_SECONDS)


async def _publish(pull: Pull, event_type: str) -> None:
    pull.seq += 1
    await get_channel_layer().group_send(GROUP, {"type": event_type, "pull": pull.data()})


# The control group: questions to every worker, and each one's answer ----------


def _answer(event: dict[str, Any]) -> dict[str, Any] | None:
    """This worker's answer to a question about pulls."""
    match event.get("type"):
        case "pulls.sync":
            now = time.monotonic()
            for key, pull in list(_pulls.items()):
                if pull.finished_at is not None and now - pull.finished_at > KEEP_FINISHED_SECONDS:
                    del _pulls[key]
            return {"pulls": [{"pull": pull.data(), "started": pull.started_at} for pull in _pulls.values()]}
        case "pulls.find":
            claim = _claims.get(event["model"])
            # Of two claims of one model at once, the smaller wins: the other asker joins.
            return {"found": is_running(event["model"]) or (claim is not None and claim < event["claim"])}
        case "pulls.cancel":
            pull = _pulls.get(event["model"])
            if pull is None or pull.state != "running" or pull.task is None:
                return {"found": False}
            pull.task.cancel()
            return {"found": True}
    return None


@dataclass
class _Question:
    until_found: bool
    expected: int | None  # how many workers will answer, when that is known
    answers: list[dict[str, Any]] = field(default_factory=list)
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, answer: dict[str, Any]) -> None:
        self.answers.append(answer)
        if (self.until_found and answer.get("found")) or len(self.answers) == self.expected:
            self.enough.set()


async def _ask(
    event: dict[str, Any], *, until_found: bool = False, seconds: float = ANSWER_SECONDS
) -> list[dict[str, Any]]:
    """Ask every worker (this one too); the answers that came within `seconds`.

    With `until_found`, the first answer that says `found` is enough.
    """
    listener = await _listener()
    # The in-memory layer serves one process, so this worker's answer is all there is.
    expected = 1 if isinstance(listener.layer, InMemoryChannelLayer) else None
    question_id = uuid.uuid4().hex
    question = listener.questions[question_id] = _Question(until_found=until_found, expected=expected)
    try:
        await listener.layer.group_send(
            CONTROL_GROUP, {**event, "question_id": question_id, "reply_channel": listener.channel}
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(question.enough.wait(), seconds)
    finally:
        del listener.questions[question_id]
    return question.answers


class _Listener:
    """This worker's member of the control group: it answers for the pulls this
    worker runs, and hands the answers to this worker's questions to the asker."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.channel = ""
        self.questions: dict[str, _Question] = {}
        self.ready: asyncio.Future[None] = loop.create_future()
        self.task = loop.create_task(self._run(), name="pull-control")

    async def _run(self) -> None:
        try:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(CONTROL_GROUP, self.channel)
        except Exception as exc:
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        rejoin = asyncio.create_task(self._stay_in_group())
        try:
            # Never cancelled while the worker runs: cancelling a receive on
            # channels-redis can drop a message it already took for another
            # channel of this process (a socket's frame).
            while True:
                try:
                    event = await self.layer.receive(self.channel)
                except Exception:
                    logger.exception("Reading the pull control channel failed")
                    await asyncio.sleep(1)
                    continue
                await self._handle(event)
        finally:
            rejoin.cancel()

    async def _handle(self, event: dict[str, Any]) -> None:
        match event.get("type"):
            case "pulls.answer":
                question = self.questions.get(event.get("question_id", ""))
                if question is not None:  # else it came too late
                    question.add(event)
                return
            case "pulls.changed":
                catalog.forget()
                return
        answer = _answer(event)
        if answer is None:
            return
        try:
            await self.layer.send(
                event["reply_channel"],
                {"type": "pulls.answer", "question_id": event["question_id"], **answer},
            )
        except Exception:  # a worker that asked and went away
            logger.warning("Could not answer a question about pulls (%s)", event.get("type"))

    async def _stay_in_group(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await self.layer.group_add(CONTROL_GROUP, self.channel)
            except Exception:
                logger.warning("Could not join the pull control group again; trying later")


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Listener] = weakref.WeakKeyDictionary()


async def _listener() -> _Listener:
    """This worker's listener (one per event loop), started on first use."""
    loop = asyncio.get_running_loop()
    listener = _listeners.get(loop)
    if listener is None or listener.task.done() or listener.layer is not get_channel_layer():
        listener = _listeners[loop] = _Listener()
    await asyncio.shield(listener.ready)
    return listener
