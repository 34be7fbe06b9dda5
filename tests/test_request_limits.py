"""Request bodies over their limit are refused with 413 before they are read, in front of Django."""

from __future__ import annotations

import contextlib
import json
import select
import socket

import pytest

from tests.helpers import error_message
from tests.live_server import LiveServer, signed_up

CHUNK = 64 * 1024


@pytest.fixture
def server(start_live_server, fake_ollama_server) -> LiveServer:
    return start_live_server(fake_ollama_server.url)


def response_to(server: LiveServer, head: str, timeout: float = 20.0) -> tuple[bytes, socket.socket]:
    """Send only a request's head; whatever the server answers before any body is sent."""
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    conn.sendall(head.encode("latin-1"))
    return read_response(conn), conn


def read_response(conn: socket.socket) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionError):
        while chunk := conn.recv(65536):
            received += chunk
    return received


def status_and_body(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_an_anonymous_2gb_post_is_refused_before_its_body(server):
    raw, conn = response_to(
        server,
        "POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {2 * 1024**3}\r\n\r\n",
    )
    conn.close()
    status, body = status_and_body(raw)

    assert status == 413
    assert body == {
        "error": {"code": "too_large", "message": "The request is too large (the limit is 1.0 MB)."}
    }


def test_a_chunked_body_is_cut_off_at_the_limit(server):
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    conn.sendall(b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < 64 * 1024 * 1024 and not select.select([conn], [], [], 0)[0]:
            conn.sendall(b"%x\r\n" % CHUNK + b"x" * CHUNK + b"\r\n")
            sent += CHUNK
    raw = read_response(conn)
    conn.close()

    assert status_and_body(raw)[0] == 413
    assert sent < 64 * 1024 * 1024  # refused while the body was still coming


def test_a_signed_in_upload_over_the_image_limit_is_refused_before_its_body(server):
    with contextlib.closing(signed_up(server)) as client:
        cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        raw, conn = response_to(
            server,
            "POST /images/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: {cookies}\r\nX-CSRFToken: {client.cookies['csrftoken']}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n",
        )
        conn.close()
        status, body = status_and_body(raw)

        assert status == 413
        assert body == {"error": {"code": "too_large", "message": "Images may be at most 10.0 MB."}}
        # Requests within their limits go on as before, on a fresh connection.
        assert client.get("/c/").status_code == 200


@pytest.mark.django_db
def test_django_refuses_a_declared_body_over_its_paths_limit_too(alice, settings):
    """For a request that reached Django some other way: no view parses a body over its limit."""
    from tests.helpers import signed_in as signed_in_client

    settings.MAX_IMAGE_BYTES = 1000
    client = signed_in_client(alice)
    response = client.post("/images/", b"x" * (1000 + 64 * 1024 + 1), content_type="application/octet-stream")
    assert response.status_code == 413 and error_message(response) == "Images may be at most 0.0 MB."
    response = client.post("/c/new/", b"{}", content_type="application/json", CONTENT_LENGTH="many")
    assert (
        response.status_code == 400
        and error_message(response) == "The request's Content-Length is not a number."
    )
