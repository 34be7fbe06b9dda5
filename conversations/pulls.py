"""One pull = one task: stream Ollama's progress, keep it in memory, publish it.

A pull belongs to no request or socket, so it goes on when the page that
started it is closed or reloaded; a page that opens later reads `snapshot()`
and then follows the `pulls` group. Only this module sends pull events.
The registry is per process, which is how the app is served (one daphne).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from channels.layers import get_channel_layer

from conversations import model_info
from conversations.ollama import OllamaError, get_client

logger = logging.getLogger(__name__)

GROUP = "pulls"
PUBLISH_SECONDS = 0.1  # at most ten progress events a second per pull
KEEP_FINISHED_SECONDS = 600.0

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


# Pulls started by this process, by normalised model name; finished ones stay a while.
_pulls: dict[str, Pull] = {}


def full_name(model: str) -> str:
    """`llama3.2` means `llama3.2:latest`, as in /api/tags."""
    model = model.strip()
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def snapshot() -> list[PullData]:
    now = time.monotonic()
    for key, pull in list(_pulls.items()):
        if pull.finished_at is not None and now - pull.finished_at > KEEP_FINISHED_SECONDS:
            del _pulls[key]
    return [pull.data() for pull in _pulls.values()]


def is_running(model: str) -> bool:
    pull = _pulls.get(full_name(model).lower())
    return pull is not None and pull.state == "running"


async def start(model: str) -> PullData:
    """Start pulling `model`, or return the pull of it already running."""
    key = full_name(model).lower()
    pull = _pulls.get(key)
    if pull is not None and pull.state == "running":
        return pull.data()
    pull = Pull(model=full_name(model))
    _pulls[key] = pull
    await _publish(pull, "pull.progress")
    pull.task = asyncio.create_task(_run(pull), name=f"pull-{pull.model}")
    return pull.data()


def cancel(model: str) -> bool:
    """Cancel a running pull; false if there is none. Cancelling closes the connection to Ollama."""
    pull = _pulls.get(full_name(model).lower())
    if pull is None or pull.state != "running" or pull.task is None:
        return False
    pull.task.cancel()
    return True


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
    except Exception as exc:  # never leave a pull "running" behind
        logger.exception("Pull of %s failed", pull.model)
        pull.state, pull.error = "error", f"The pull failed: {exc}"
    finally:
        publisher.cancel()
        pull.finished_at = time.monotonic()
        # What Ollama has changed: the badges and details must be read again.
        model_info.forget()
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
