"""The models socket: the state of every pull, then live progress; staff start and cancel pulls.

Pulls run on whichever worker started them; pulls.py asks the other workers
for their state and passes a cancel on, so this socket works the same on any.
"""

from __future__ import annotations

from typing import Any

from conversations.ollama.client import full_name, model_name
from conversations.sockets import FrameError, JsonSocket
from ollama_models import pulls


class ModelsConsumer(JsonSocket):
    joined = False
    max_frame_bytes = 4096

    async def connect(self) -> None:
        if not await self.admit_user():
            return
        # Join first, then ask for the state: an event raced by the snapshot is
        # only a repeat, and its `seq` tells the page so.
        await self.channel_layer.group_add(pulls.GROUP, self.channel_name)
        self.joined = True
        await self.accept()
        self.admitted = True
        await self.send_json({"type": "pulls", "pulls": await pulls.snapshot()})

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.joined:
            await self.channel_layer.group_discard(pulls.GROUP, self.channel_name)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        match content.get("type"):
            case "pull":
                await pulls.start(await self._model_of(content))
            case "cancel":
                model = await self._model_of(content)
                if not await pulls.cancel(model):
                    raise FrameError("not_pulling", f"{full_name(model)} is not being pulled.")
            case "ping":
                await self.send_json({"type": "pong"})
            case _:
                raise FrameError("bad_frame", "Unknown frame type.")

    async def _model_of(self, content: dict[str, Any]) -> str:
        # Rights as they are now: staff rights may have been taken away since connecting.
        user = await self.current_user()
        if not user.is_staff:
            raise FrameError("forbidden", "Only staff can pull models.")
        try:
            return model_name(content.get("model"))
        except ValueError as exc:
            raise FrameError("invalid", str(exc)) from None

    # Group events from pulls.py -> frames -------------------------------------

    async def pull_progress(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "progress", "pull": event["pull"]})

    async def pull_done(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "done", "pull": event["pull"]})
