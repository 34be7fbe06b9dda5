"""Each process's housekeeping loop: once an hour, uploads never sent that are a day old go."""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from django.utils import timezone

from conversations import images

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600

_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def ensure_housekeeping() -> None:
    """Start this process's housekeeping loop, unless it runs already."""
    loop = asyncio.get_running_loop()
    task = _loops.get(loop)
    if task is None or task.done():
        _loops[loop] = loop.create_task(_keep_house_forever(), name="housekeeping")


async def _keep_house_forever() -> None:
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        try:
            removed = await database_sync_to_async(images.remove_stale_unsent)(now=timezone.now())
        except Exception:  # the next round may succeed
            logger.exception("Removing stale unsent uploads failed")
        else:
            if removed:
                logger.info("Removed %d uploads never sent", removed)
