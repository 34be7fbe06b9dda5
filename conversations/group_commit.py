"""Work that arrives together shares one trip to the database thread.

Every database call of the socket side runs on one thread, one call after the
other. When many calls of the same kind arrive at once (a burst of new chats),
a GroupCommit hands all that are waiting to one call of a function that does
them together, typically in one transaction. Alone, an item goes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async

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
            try:
                outcomes = await database_sync_to_async(self.work)([item for item, _ in batch])
            except Exception as exc:  # the whole call failed: every submitter hears why
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its submitter was cancelled meanwhile
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
