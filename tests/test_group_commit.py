"""Work that arrives together shares one trip to the database thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from conversations.chat.group_commit import GroupCommit


class Refused(Exception):
    pass


async def test_items_that_arrive_while_a_batch_runs_go_together_in_order():
    calls: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def work(items: list[int]) -> list[int | Exception]:
        calls.append(items)
        if len(calls) == 1:
            first_started.set()
            release.wait(5)
        return [Refused(f"odd {item}") if item % 2 else item * 10 for item in items]

    group = GroupCommit(work)
    first = asyncio.create_task(group.submit(0))
    await asyncio.to_thread(first_started.wait, 5)
    later = [asyncio.create_task(group.submit(item)) for item in (1, 2, 3, 4)]
    await asyncio.sleep(0)
    release.set()

    assert await first == 0
    outcomes = await asyncio.gather(*later, return_exceptions=True)
    assert calls == [[0], [1, 2, 3, 4]]
    assert [str(o) if isinstance(o, Refused) else o for o in outcomes] == ["odd 1", 20, "odd 3", 40]


async def test_a_failed_call_fails_every_item_of_its_batch_and_the_next_batch_runs():
    calls = 0

    def work(items: list[str]) -> list[str | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database gone")
        return [item.upper() for item in items]

    group = GroupCommit(work)
    with pytest.raises(RuntimeError, match="database gone"):
        await group.submit("a")
    assert await group.submit("b") == "B"


async def test_a_batch_is_at_most_so_many_items():
    sizes: list[int] = []

    def work(items: list[int]) -> list[int | Exception]:
        sizes.append(len(items))
        return list(items)

    group = GroupCommit(work, most=3)
    assert await asyncio.gather(*(group.submit(item) for item in range(7))) == list(range(7))
    assert sum(sizes) == 7 and max(sizes) <= 3


async def test_one_bad_item_fails_alone_and_the_others_of_its_batch_succeed(caplog):
    """A batch whose call fails is tried again item by item: only the item at fault fails,
    with an exception of its own, logged once."""
    calls: list[list[str]] = []
    first_started, release = threading.Event(), threading.Event()

    def work(items: list[str]) -> list[str | Exception]:
        calls.append(items)
        if len(calls) == 1:
            first_started.set()
            release.wait(5)
        if "poison" in items:
            raise ValueError("cannot store poison")
        return [item.upper() for item in items]

    group = GroupCommit(work)
    first = asyncio.create_task(group.submit("first"))
    await asyncio.to_thread(first_started.wait, 5)
    batch = [asyncio.create_task(group.submit(item)) for item in ("a", "poison", "b", "poison", "c")]
    await asyncio.sleep(0)
    release.set()

    assert await first == "FIRST"
    outcomes = await asyncio.gather(*batch, return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[2] == "B" and outcomes[4] == "C"
    assert isinstance(outcomes[1], ValueError) and isinstance(outcomes[3], ValueError)
    assert outcomes[1] is not outcomes[3]  # each submitter's own, so tracebacks do not pile up
    assert calls[1] == ["a", "poison", "b", "poison", "c"]
    assert sorted(map(tuple, calls[2:])) == [("a",), ("b",), ("c",), ("poison",), ("poison",)]
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 2  # each failure once
