"""The models socket: the state of every pull, then live progress; staff start and cancel pulls.

Pulls run on whichever worker started them; pulls.py asks the other workers
for their state and passes a cancel on, so this socket works the same on any.
"""

from __future__ import annotations

import json
from typing import Any

from conversations import pulls
from conversations.protocol import MODEL_NAME, FrameError, error_frame
from conversations.socket_base import JsonSocket

MAX_FRAME_BYTES = 4096


class ModelsConsumer(JsonSocket):
    joined = False

    async def connect(self) -> None:
        # A custom close code only reaches the browser after the handshake is accepted.
        if not self.scope["user"].is_authenticated:
            await self.accept()
            await self.close(code=4401)
            return
        # Join first, then ask for the state: an event raced by the snapshot is
        # only a repeat, and its `seq` tells the page so.
        await self.channel_layer.group_add(pulls.GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        await self.send_json({"type": "pulls", "pulls": await pulls.snapshot()})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(pulls.GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return
        try:
            if text_data is None or len(text_data) > MAX_FRAME_BYTES:
                raise FrameError("bad_frame", "Frames must be small JSON text.")
            try:
                content = json.loads(text_data)
            except ValueError:
                raise FrameError("bad_frame", "Frames must be valid JSON.") from None
            if not isinstance(content, dict):
                raise FrameError("bad_frame", "Frames must be JSON objects.")
            await self.receive_json(content)
        except FrameError as exc:
            await self.send_json(error_frame(exc.code, exc.message))

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        match content.get("type"):
            case "pull":
                await pulls.start(self._model_of(content))
            case "cancel":
                model = self._model_of(content)
                if not await pulls.cancel(model):
                    raise FrameError("not_pulling", f"{pulls.full_name(model)} is not being pulled.")
            case "ping":
                await self.send_json({"type": "pong"})
            case _:
                raise FrameError("bad_frame", "Unknown frame type.")

    def _model_of(self, content: dict[str, Any]) -> str:
        if not self.scope["user"].is_staff:
            raise FrameError("forbidden", "Only staff can pull models.")
        model = content.get("model")
        if not isinstance(model, str) or not MODEL_NAME.match(model.strip()):
            raise FrameError("invalid", "That is not a valid model name.")
        return model.strip()

    # Group events from pulls.py -> frames -------------------------------------

    async def pull_progress(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "progress", "pull": event["pull"]})

    async def pull_done(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "done", "pull": event["pull"]})
