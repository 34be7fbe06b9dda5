"""Work that arrives together shares one trip to the database thread.

Every database call of the socket side runs on one thread, one call after the
other. When many calls of the same kind arrive at once (a burst of new chats),
a GroupCommit hands all that are waiting to one call of a function that does
them together, typically in one transaction. Alone, an item goes at once.

One item must never fail the others: when the call for a batch fails, each of
its items is tried again on its own, so only the item at fault fails (and its
submitter alone hears why, with an exception of its own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupCommit(Generic[Item, Outcome]):
    """`work(items)` returns one outcome per item, in order; an exception outcome is raised to its submitter."""

    def __init__(self, work: Callable[[list[Item]], list[Outcome | Exception]], *, most: int = 500) -> None:
        self.work = work
        self.most = most
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.most], self._waiting[self.most :]
            outcomes = await database_sync_to_async(self._work_apart)([item for item, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its submitter was cancelled meanwhile
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _work_apart(self, items: list[Item]) -> list[Outcome | Exception]:
        """`work(items)`; if that fails, each item again on its own, so one bad item fails alone."""
        try:
            return self.work(items)
        except Exception as exc:
            if len(items) == 1:
                logger.exception("A batch of one failed")
                return [exc]
            logger.warning("A batch of %d failed (%r); trying each on its own", len(items), exc)
        return [self._work_alone(item) for item in items]

    def _work_alone(self, item: Item) -> Outcome | Exception:
        try:
            return self.work([item])[0]
        except Exception as exc:
            logger.exception("An item failed on its own")
            return exc
