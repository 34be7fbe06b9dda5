"""What a worker does when it is told to stop (SIGTERM, under daphne).

Daphne stops its event loop without cancelling tasks it did not start, so
first the replies this process writes are ended and saved with all their text
(as interrupted), and requests still waiting on Ollama are ended (daphne waits
for every request, and Ollama may take minutes). Then the process must not
hang on a thread still waiting for the stopped loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from conversations.chat.liveness import running

logger = logging.getLogger(__name__)

# How long a stopping process waits for its replies to be saved, and then for
# its threads to finish.
SAVE_SECONDS = 5.0
EXIT_SECONDS = 5.0
_prepared = False
# Tasks of requests that wait on Ollama (see ends_when_stopping).
_waiting_on_ollama: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

View = TypeVar("View", bound=Callable[..., Awaitable[Any]])


def ends_when_stopping(view: View) -> View:
    """For async views that wait on Ollama: a stopping worker ends them rather than waiting."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        if task is not None:
            _waiting_on_ollama.add(task)
        try:
            return await view(*args, **kwargs)
        finally:
            if task is not None:
                _waiting_on_ollama.discard(task)

    return wrapper  # type: ignore[return-value]


def prepare() -> None:
    """Hook this process's shutdown into Twisted's, which daphne runs on (once per process)."""
    global _prepared
    reactor = sys.modules.get("twisted.internet.reactor")
    if _prepared or reactor is None or not reactor.running:
        return
    _prepared = True
    # "before" triggers run, and are waited for, while the loop still runs.
    reactor.addSystemEventTrigger("before", "shutdown", _end_requests_and_save_replies)
    reactor.addSystemEventTrigger("after", "shutdown", _exit_if_stuck)


def _end_requests_and_save_replies() -> Any:
    from twisted.internet.defer import Deferred

    for task in list(_waiting_on_ollama):
        task.cancel()
    writers = [writer for writer in running.values() if writer is not None]
    for writer in writers:
        writer.interrupt()
    tasks = [writer.task for writer in writers if writer.task is not None]
    if not tasks:
        return None
    logger.info("Saving %d replies before stopping", len(tasks))
    return Deferred.fromFuture(asyncio.ensure_future(asyncio.wait(tasks, timeout=SAVE_SECONDS)))


def _exit_if_stuck() -> None:
    def leave_after_a_while() -> None:
        time.sleep(EXIT_SECONDS)
        stuck = [thread.name for thread in threading.enumerate() if not thread.daemon]
        logger.warning("Still waiting for %s %.0f s after stopping; exiting now", stuck, EXIT_SECONDS)
        logging.shutdown()
        os._exit(0)

    # A daemon thread: when the process ends by itself first, so does this.
    threading.Thread(target=leave_after_a_while, name="exit-watchdog", daemon=True).start()
