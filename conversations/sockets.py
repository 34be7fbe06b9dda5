"""What the app's sockets share: frame admission, error frames, frames out in parts, who is still
signed in, and events dispatched without a trip to the database thread."""

from __future__ import annotations

import json
import logging
from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from conversations import json_input

logger = logging.getLogger(__name__)

# Frames out are at most this large. daphne refuses to send a frame larger than
# its message limit and closes the socket instead, so a larger frame (a long
# reply, its highlighted HTML, a page of history) goes as `part` frames the page
# joins again. Each character of JSON text takes at most 4 bytes of UTF-8.
OUT_FRAME_BYTES = 256 * 1024
PART_CHARS = (OUT_FRAME_BYTES - 64) // 4
SERVER_ERROR = "The server could not handle that frame. Try again; if it keeps happening, reload the page."


class FrameError(Exception):
    """A frame refused; `code` and `message` go back to the tab in an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignedOut(Exception):
    """The session ended while the socket was open; the socket is closed already."""


def error_frame(code: str, message: str, message_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if message_id:
        frame["message_id"] = message_id
    return frame


def user_group(user_id: int) -> str:
    """Every socket of a user: told when their rights or sessions change (conversations/signals.py)."""
    return f"user.{user_id}"


def utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def admit_frame(text_data: str | None, *, max_bytes: int) -> dict[str, Any]:
    """A frame from a tab as a JSON object, or FrameError saying what is wrong with it.

    What the database cannot store (NUL, lone surrogates, NaN and the infinities,
    deep nesting) is refused here, before anything is saved or batched with
    other users' work.
    """
    if text_data is None:
        raise FrameError("bad_frame", "Frames must be JSON text.")
    size = utf8_length(text_data)
    if size > max_bytes:
        raise FrameError(
            "bad_frame", f"That frame is too large ({size:,} bytes; the limit is {max_bytes:,})."
        )
    try:
        content = json_input.loads(text_data, what="The frame")
    except json_input.Unacceptable as exc:
        raise FrameError("bad_frame" if exc.malformed else "invalid", exc.message) from None
    if not isinstance(content, dict):
        raise FrameError("bad_frame", "Frames must be JSON objects.")
    return content


def encode_frame(content: dict[str, Any]) -> list[str]:
    """A frame as JSON text (UTF-8 as it is, not \\u-escaped), split into `part` frames if too large."""
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= PART_CHARS or utf8_length(text) <= OUT_FRAME_BYTES:
        return [text]
    slices = [text[start : start + PART_CHARS] for start in range(0, len(text), PART_CHARS)]
    return [
        json.dumps({"type": "part", "data": piece, "last": index == len(slices) - 1}, ensure_ascii=False)
        for index, piece in enumerate(slices)
    ]


class JsonSocket(AsyncJsonWebsocketConsumer):
    """A socket of a signed-in user; subclasses set `admitted` once connect() lets the user in."""

    admitted = False
    # Errors with a `code` and a `message` that go back to the tab as they are.
    refusals: tuple[type[Exception], ...] = (FrameError,)

    @property
    def max_frame_bytes(self) -> int:
        return settings.MAX_FRAME_BYTES

    async def admit_user(self) -> bool:
        """Accept the socket; a visitor who is not signed in is then closed with 4401.

        A custom close code only reaches the browser after the handshake is
        accepted; closing before accept() would be a bare HTTP 403.
        """
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.accept()
            await self.close(code=4401)
            return False
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        return True

    async def disconnect(self, code: int) -> None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            await self.channel_layer.group_discard(user_group(user.pk), self.channel_name)

    async def current_user(self) -> Any:
        """The user as the session says now (signed out, deactivated or demoted since connecting?).

        Closes the socket with 4401 and raises SignedOut when the session no
        longer signs anyone in, or signs in someone else.
        """
        engine = import_module(settings.SESSION_ENGINE)
        session_key = self.scope["session"].session_key
        user = await get_user({"session": engine.SessionStore(session_key)})
        if not user.is_authenticated or user.pk != self.scope["user"].pk:
            self.admitted = False
            await self.send_json({"type": "signed_out"})
            await self.close(code=4401)
            raise SignedOut
        self.scope["user"] = user
        return user

    async def auth_changed(self, event: dict[str, Any]) -> None:
        """Group event: this user signed out somewhere, or their account changed."""
        try:
            await self.current_user()
        except SignedOut:
            pass

    # Frames in ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.admitted:
            return
        try:
            content = admit_frame(text_data, max_bytes=self.max_frame_bytes)
            await self.receive_json(content)
        except SignedOut:
            pass
        except self.refusals as exc:
            await self.send_json(error_frame(exc.code, exc.message))  # type: ignore[attr-defined]
        except Exception:
            # Never a 1011 close: the tab hears of it and the socket stays open.
            logger.exception("Handling a frame on %s failed", self.scope.get("path", "a socket"))
            await self.send_json(error_frame("server_error", SERVER_ERROR))

    # Frames out -------------------------------------------------------------------

    async def send_json(self, content: dict[str, Any], close: bool = False) -> None:
        try:
            frames = encode_frame(content)
        except (TypeError, ValueError):
            logger.exception("A %s frame could not be encoded", content.get("type"))
            return
        for text in frames:
            await self.send(text_data=text)
        if close:
            await self.close()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Call the handler without channels' stale-connection check first.

        Channels closes old database connections before every handler, a hop to
        the single database thread, so each token frame of each tab would queue
        behind the database work of every reply. These handlers reach the
        database only through database_sync_to_async, which does that check itself.
        A group event that fails is logged; it never closes the socket.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"].startswith("websocket."):
            await handler(message)
            return
        try:
            await handler(message)
        except Exception:
            logger.exception("Handling a %s event failed", message["type"])
