"""What the app's sockets share: dispatching events without a trip to the database thread."""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class JsonSocket(AsyncJsonWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        """Call the handler without channels' stale-connection check first.

        Channels closes old database connections before every handler, a hop to
        the single database thread, so each token frame of each tab would queue
        behind the database work of every reply. These handlers reach the
        database only through database_sync_to_async, which does that check itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
