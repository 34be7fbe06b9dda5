"""Helpers the tests share: signed-in clients and sockets, frames, images, ports, error bodies.
Fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import io
import json
import socket as sockets
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image as Pillow


def error_of(response: Any) -> dict[str, str]:
    """The {"code", "message"} of a JSON error answer (views/http.py gives every one that shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return body["error"]


def error_message(response: Any) -> str:
    return error_of(response)["message"]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def png(color: str = "green") -> bytes:
    buffer = io.BytesIO()
    Pillow.new("RGB", (8, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


def image_bytes(format: str = "PNG", size: tuple[int, int] = (40, 30), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Pillow.new("RGB", size, color).save(buffer, format=format)
    return buffer.getvalue()


def upload_image(user, data: bytes, name: str = "photo.png") -> tuple[int, dict]:
    """Upload as the composer does: (status, the JSON answer)."""
    client = Client()
    client.force_login(user)
    response = client.post("/images/", {"file": SimpleUploadedFile(name, data)})
    return response.status_code, response.json()


def removed_by(user, image_id: str) -> int:
    """Take back an unsent upload as `user`: the status answered."""
    client = Client()
    client.force_login(user)
    return client.post(f"/images/{image_id}/remove/").status_code


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def free_port() -> int:
    """A loopback port nothing listens on (until someone binds it)."""
    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def open_path(
    user, path: str, *, origin: str = "http://testserver", host: str = "testserver", connected: bool = True
) -> WebsocketCommunicator:
    """A socket on `path` through the real ASGI application, signed in as `user` (None: anonymous)."""
    from chatsite.asgi import application

    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    ok, _ = await socket.connect(timeout=5)
    if connected:
        assert ok
    socket.accepted = ok  # False: refused at the handshake (HTTP 403)
    return socket


async def open_socket(
    user, conversation_id, *, origin: str = "http://testserver", connected: bool = True
) -> WebsocketCommunicator:
    return await open_path(user, f"/ws/conversations/{conversation_id}/", origin=origin, connected=connected)


async def receive_until(socket: WebsocketCommunicator, frame_type: str, timeout: float = 5.0) -> list[dict]:
    """Frames up to and including the first of `frame_type`."""
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


async def send(socket: WebsocketCommunicator, **frame: Any) -> None:
    await socket.send_to(text_data=json.dumps(frame))


def text_of(frames: list[dict], kind: str = "token") -> str:
    return "".join(frame["content"] for frame in frames if frame["type"] == kind)


async def wait_for(predicate, timeout: float = 5.0) -> None:
    """Poll a synchronous database predicate until it holds."""
    check = sync_to_async(predicate)
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
