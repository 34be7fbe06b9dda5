"""Parsing of environment variables; settings.py is the only caller."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from chatsite.private_files import PRIVATE_FILE, keep_private

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_ollama_host(value: str | None) -> str:
    """Turn OLLAMA_HOST into a base URL the way Ollama's own clients do.

    No scheme means http on port 11434; a scheme without a port means that
    scheme's port; a path is kept for reverse proxies. As a place to connect
    to, 0.0.0.0 and :: mean this machine, so they become loopback (Ollama's
    Go client does the same; its Python and JS clients do not).
    """
    host = (value or "").strip().strip("\"'").strip()
    if not host:
        return DEFAULT_OLLAMA_HOST
    if "://" not in host:
        scheme, rest, default_port = "http", host, 11434
    else:
        scheme, rest = host.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ImproperlyConfigured(f"OLLAMA_HOST must use http or https, got {value!r}")
        default_port = 443 if scheme == "https" else 80
    parts = urlsplit(f"{scheme}://{_bracket_bare_ipv6(rest)}")
    try:
        port = parts.port or default_port
    except ValueError:
        port = default_port  # out of range: Ollama falls back to the default too
    hostname = parts.hostname or "127.0.0.1"
    if hostname == "0.0.0.0":
        hostname = "127.0.0.1"
    elif hostname == "::":
        hostname = "::1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    path = parts.path.rstrip("/")
    return f"{scheme}://{hostname}:{port}{path}"


def _bracket_bare_ipv6(rest: str) -> str:
    """`::1` or `fe80::1/path` → `[::1]`, `[fe80::1]/path`: an IPv6 address without brackets has no port."""
    address, slash, path = rest.partition("/")
    if address.count(":") < 2 or address.startswith("["):
        return rest
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return rest
    return f"[{address}]{slash}{path}"


def load_secret_key(data_dir: Path) -> str:
    """SECRET_KEY from the environment, or one generated once and kept in DATA_DIR."""
    value = os.environ.get("SECRET_KEY", "").strip()
    if value:
        return value
    path = data_dir / "secret_key"
    if path.exists():
        keep_private(path, mode=PRIVATE_FILE)
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:  # another worker started at the same moment
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
