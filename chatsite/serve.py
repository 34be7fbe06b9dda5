"""Serving the app: daphne, with the limits that must hold before a byte reaches Django.

    python -m chatsite.serve -b 127.0.0.1 -p 8000 [any other daphne option]

Two limits cannot be set in Django or in ASGI middleware, because daphne acts
before the application is called:

- Request bodies. daphne (Twisted) reads a whole request body, to memory or a
  temporary file, before the application sees the request, so a view cannot
  refuse a 2 GB upload before it is written to disk. Here a body declared
  larger than its path allows (chatsite/body_limits.py) is refused with 413 as
  soon as the headers are in, and a chunked body is cut off when it passes the limit.
- Websocket frames. daphne's message limit (1 MiB by default) applies in both
  directions: it is set a little above the app's own frame limit
  (settings.TRANSPORT_FRAME_BYTES), so a frame that is too large gets the app's
  error frame, and the app never sends a frame near it (socket_base.OUT_FRAME_BYTES).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# daphne serves plain HTTP here: TLS ends at the reverse proxy (docs/deploy.md). Without
# this line Twisted loads pyOpenSSL, and with it cryptography's TLS bindings, into every
# worker (about 6 MB) for a TLS transport that is never used.
sys.modules.setdefault("OpenSSL", None)  # type: ignore[arg-type]  # None: "import OpenSSL" fails

import daphne.server  # noqa: E402 (daphne after the line above)
from daphne.cli import CommandLineInterface  # noqa: E402
from daphne.http_protocol import HTTPFactory, WebRequest  # noqa: E402
from daphne.server import Server  # noqa: E402

APPLICATION = "chatsite.asgi:application"


class LimitedRequest(WebRequest):
    """daphne's request, refusing a body over its path's limit before reading it."""

    _limit = 0
    _message = ""
    _received = 0
    _refused = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 (Twisted's name)
        from chatsite.body_limits import body_limit  # the app's modules load once Django is set up

        # The request line is parsed (the channel holds its path); the body is not read yet.
        raw_path = getattr(self.channel, "_path", b"") or b""
        path = raw_path.split(b"?", 1)[0].decode("latin-1")
        self._limit, self._message = body_limit(path)
        if length is not None and length > self._limit:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        if self._refused:
            return
        self._received += len(data)
        if self._received > self._limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def _refuse(self) -> None:
        from conversations.views.http import error_body

        self._refused = True
        body = json.dumps(error_body("too_large", self._message)).encode()
        head = (
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        self.channel.transport.write(head + body)
        self.channel.transport.loseConnection()


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:  # noqa: N802
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol


class LimitedServer(Server):
    def run(self) -> None:
        # Server.run() builds its HTTPFactory by the name daphne.server imported;
        # this process serves only this app, so that name is pointed at ours.
        daphne.server.HTTPFactory = LimitedHTTPFactory
        super().run()


class CLI(CommandLineInterface):
    server_class = LimitedServer


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django
    from django.conf import settings

    django.setup()
    frame = str(settings.TRANSPORT_FRAME_BYTES)
    CLI().run(
        [
            "--websocket-max-message-size",
            frame,
            "--websocket-max-frame-size",
            frame,
            *argv,
            APPLICATION,
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
