"""Websockets only from the site's own origin (scheme, host and port) or a trusted one.

A browser sends its cookies with a websocket handshake from any page, so the
Origin header is what keeps another site from driving a user's socket. Channels'
AllowedHostsOriginValidator compares host names only: a page on another port or
scheme of the same host (http://127.0.0.1:9999 for a site on :8000) passes it.
This compares the whole origin, as Django's CSRF check does for HTTP.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def origin_allowed(*, origin: str, host: str, secure: bool) -> bool:
    """Whether a handshake with this Origin header, to this Host, may go on.

    The same rule as django.middleware.csrf.CsrfViewMiddleware._origin_verified:
    the request's own origin, or one of CSRF_TRUSTED_ORIGINS (with their
    `https://*.example.com` wildcards). "null" and a missing origin never pass.
    """
    domain, _port = split_domain_port(host)
    if not origin or origin == "null" or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    if origin == f"{'https' if secure else 'http'}://{host}":
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, urlsplit(pattern).netloc.lstrip("*"))
        for pattern in trusted
        if "*" in pattern and urlsplit(pattern).scheme == parsed.scheme
    )


class SameOriginOnly:
    """ASGI middleware: a websocket handshake from any other origin is refused (HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(
            origin=_header(scope, b"origin"),
            host=_header(scope, b"host"),
            secure=scope.get("scheme") == "wss",
        ):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
