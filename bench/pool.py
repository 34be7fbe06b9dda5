"""What starting a stream costs in an httpx pool shared by many concurrent streams, and what it keeps alive.

The app keeps one httpx.AsyncClient per process (conversations/ollama.py,
POOL_LIMITS: no connection limit, up to 256 kept alive) and
every streaming reply holds one of its connections. Here a client configured
the same way, in this process, starts `k` streams at once against the fake
server, whose streams send one line and then stay silent for half a second: the CPU
spent until every stream has its first line, divided by k, is the per-stream
start-up cost. A second round on the same client shows what keep-alive saved.

Then the keep-alive check: while LONG streams are running, SHORT streams run
and end; how many of their connections does the pool keep for the next reply?
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.clients import chat_payload, direct_client
from bench.servers import Site
from bench.stats import median, percentile

LONG = SHORT = 60


def _pool(client: Any) -> Any:
    return client._transport._pool


async def _stream(
    client: Any, url: str, index: int, first_lines: list[float], ready: asyncio.Event, k: int
) -> None:
    started = time.perf_counter()
    async with client.stream("POST", f"{url}/api/chat", json=chat_payload([], f"pool {index}")) as response:
        async for _line in response.aiter_lines():
            if started:
                first_lines.append(time.perf_counter() - started)
                started = 0.0
                if len(first_lines) == k:
                    ready.set()


async def _round(client: Any, url: str, k: int) -> dict[str, Any]:
    ready, first_lines = asyncio.Event(), []
    reusable = len(_pool(client).connections)
    cpu = time.process_time()
    tasks = [asyncio.create_task(_stream(client, url, index, first_lines, ready, k)) for index in range(k)]
    async with asyncio.timeout(60):
        await ready.wait()
    cpu = time.process_time() - cpu
    async with asyncio.timeout(60):
        await asyncio.gather(*tasks)
    return {
        "k": k,
        "cpu_per_stream": cpu / k,
        "first_p50": median(first_lines),
        "first_p99": percentile(first_lines, 99),
        "reusable_before": reusable,
    }


async def _keepalive(long_url: str, short_url: str) -> dict[str, Any]:
    async with direct_client() as client:
        ready, first_lines = asyncio.Event(), []
        long_tasks = [
            asyncio.create_task(_stream(client, long_url, index, first_lines, ready, LONG))
            for index in range(LONG)
        ]
        async with asyncio.timeout(60):
            await ready.wait()
            short_ready, short_lines = asyncio.Event(), []
            await asyncio.gather(
                *(
                    _stream(client, short_url, index, short_lines, short_ready, SHORT)
                    for index in range(SHORT)
                )
            )
            pool = _pool(client)
            idle = sum(1 for connection in pool.connections if connection.is_idle())
            active = sum(1 for connection in pool.connections if not connection.is_idle())
            await asyncio.gather(*long_tasks)
    return {"long": LONG, "short": SHORT, "idle_kept": idle, "active": active}


async def _probe(url: str, long_url: str, sizes: list[int]) -> dict[str, Any]:
    rounds = []
    for k in sizes:
        async with direct_client() as client:
            cold = await _round(client, url, k)
            warm = await _round(client, url, k)
        rounds.append({"k": k, "cold": cold, "warm": warm})
    return {"rounds": rounds, "keepalive": await _keepalive(long_url, url)}


def measure_pool(site: Site, sizes: Any) -> dict[str, Any]:
    # One line at once, then half a second of silence, then the last: start-up is all the first line costs.
    short = site.start_fake(tokens=2, delay=0.5)
    long = site.start_fake(tokens=2, delay=2.0)
    try:
        return asyncio.run(_probe(short.url, long.url, sizes.pool_sizes))
    finally:
        site.stop(long)
        site.stop(short)
