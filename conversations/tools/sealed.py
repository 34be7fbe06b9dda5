"""A tool server's headers (API keys) sealed at rest: encrypted with a key derived from SECRET_KEY.

Fernet (AES with an HMAC) from `cryptography`. If SECRET_KEY changes, sealed
headers can no longer be read: the server is then reported down until staff
enter its headers again.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

UNREADABLE = "Its headers can no longer be read (SECRET_KEY changed?); enter them again in the admin."


class Unreadable(Exception):
    pass


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"conversations.tools.sealed:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(headers: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(headers).encode()).decode() if headers else ""


def unseal(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise Unreadable(UNREADABLE) from None
