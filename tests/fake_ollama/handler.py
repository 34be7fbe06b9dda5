"""The HTTP plumbing of the fake: Gin's routing, reading a body, writing JSON and chunked NDJSON."""

from __future__ import annotations

import select
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fake_ollama.go_json import Body, dumps
from tests.fake_ollama.rules import Rejected
from tests.fake_ollama.scripts import Recorded

if TYPE_CHECKING:
    from tests.fake_ollama.server import FakeOllama


# Ollama's routes and the methods each answers (None: Ollama has it, the fake does not).
# Gin answers any other method on these paths with a 405, and any other path with a 404.
ROUTES: dict[str, dict[str, str | None]] = {
    "/": {"GET": "_root", "HEAD": "_root"},
    "/api/version": {"GET": "_version", "HEAD": "_version"},
    "/api/tags": {"GET": "_tags", "HEAD": "_tags"},
    "/api/ps": {"GET": "_ps"},
    "/api/chat": {"POST": "_chat"},
    "/api/show": {"POST": "_show"},
    "/api/pull": {"POST": "_pull"},
    "/api/copy": {"POST": "_copy"},
    "/api/delete": {"DELETE": "_delete"},
    "/api/generate": {"POST": None},
    "/api/embed": {"POST": None},
    "/api/embeddings": {"POST": None},
    "/api/create": {"POST": None},
    "/api/push": {"POST": None},
}


class BaseHandler(BaseHTTPRequestHandler):
    """Records each request and dispatches it to the method ROUTES names; the endpoints subclass it."""

    fake: FakeOllama
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # Plumbing --------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, content_type: str | None, **headers: str) -> None:
        self.responded = True
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self, status: int, data: Any, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        self._send(status, dumps(data).encode(), content_type)

    def _start_stream(self) -> None:
        self.responded = True
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _write_chunk(self, line: dict[str, Any] | str) -> None:
        payload = ((line if isinstance(line, str) else dumps(line)) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _client_gone(self, wait: float) -> bool:
        """Wait up to `wait` seconds; true as soon as the client has closed."""
        sock = self.connection
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # Routing ---------------------------------------------------------------

    def _serve(self) -> None:
        self.responded = False
        body = Body.parse(self._read_body())
        path = urlsplit(self.path).path
        recorded = Recorded(self.command, path, body.value if body.error is None else None)
        with self.fake.lock:
            self.fake.requests.append(recorded)
        methods = ROUTES.get(path)
        try:
            if methods is None:
                self._send(404, b"404 page not found", "text/plain")
            elif self.command not in methods:
                self._send(405, b"405 method not allowed", "text/plain", Allow=", ".join(methods))
            elif (handler := methods[self.command]) is None:
                self._send_json(501, {"error": f"the fake Ollama does not serve {self.command} {path}"})
            else:
                getattr(self, handler)(body, recorded)
        except Rejected as rejected:
            self._send_json(rejected.status, {"error": rejected.error}, rejected.content_type)
        except (BrokenPipeError, ConnectionResetError):
            recorded.closed_by_client = True
            self.close_connection = True
        except Exception as exc:  # a bug in the fake: say so rather than drop the connection
            if not self.responded:
                self._send_json(500, {"error": f"the fake Ollama failed: {exc!r}"})
            self.close_connection = True
            raise
        finally:
            recorded.finished_at = time.monotonic()
            recorded.done.set()

    do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _serve
