"""Figure 5: cold start, idle memory, and memory per open idle socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.clients import Tab, open_tabs
from bench.servers import Site

SETTLE_SECONDS = 1.0


async def _sockets(worker: Any, conversation_id: str, cookie: str, count: int) -> dict[str, Any]:
    opened = await open_tabs(worker.url, [conversation_id] * count, cookie)
    tabs = [tab for tab in opened if isinstance(tab, Tab)]
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        rss = worker.rss_bytes()
        alive = sum(1 for tab in tabs if tab.socket.state.name == "OPEN")
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))
    return {"rss": rss, "opened": len(tabs), "open_at_measure": alive}


def measure_footprint(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    fake = site.start_fake(tokens=20, delay=0.0)
    # The plain server, nothing counted: the process a user runs.
    worker = site.start_worker(fake, "footprint", count_writes=False)
    try:
        start_seconds = worker.start_seconds
        time.sleep(SETTLE_SECONDS)
        idle = worker.rss_bytes()
        idle_anon = worker.rss_bytes("RssAnon")
        conversation_id = seeded["sets"]["idle"][0]
        sockets = asyncio.run(_sockets(worker, conversation_id, seeded["sessions"]["relay"], sizes.sockets))
        return {
            "start_seconds": start_seconds,
            "idle_rss": idle,
            "idle_anon": idle_anon,
            "sockets": sizes.sockets,
            "sockets_opened": sockets["opened"],
            "sockets_rss": sockets["rss"],
            "per_socket": (sockets["rss"] - idle) / max(sockets["opened"], 1),
        }
    finally:
        site.stop(worker)
        site.stop(fake)
