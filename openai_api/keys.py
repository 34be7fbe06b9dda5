"""API keys: made, found by their hash, revoked; each call counted against the key's rate limit.

A key is 256 random bits: a sha256 of it cannot be reversed or guessed, so a
fast hash is enough and every call costs one indexed lookup, where a password
hasher would cost tens of milliseconds per call by design.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import F
from django.utils import timezone

from conversations.models import ApiKey

KEY_START = "sk-chat-"
PREFIX_LENGTH = len(KEY_START) + 6
MAX_KEY_CHARS = 200
MAX_NAME_CHARS = 100
WINDOW_SECONDS = 60


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(*, owner_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for `owner_id`: its row, and the key itself, which is shown once and never stored."""
    key = KEY_START + secrets.token_urlsafe(32)
    record = ApiKey.objects.create(owner_id=owner_id, name=name, prefix=key[:PREFIX_LENGTH], hash=digest(key))
    return record, key


def revoke_key(*, owner_id: int, key_id: int) -> bool:
    """Revoke one of the owner's keys; False if they have no such key."""
    found = ApiKey.objects.filter(pk=key_id, owner_id=owner_id)
    if not found.exists():
        return False
    found.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    return True


@dataclass(frozen=True)
class Caller:
    key_id: int
    user_id: int


def find_caller(key: str) -> Caller | None:
    """Who calls with `key`: None for a key unknown, revoked, or of a user who may no longer sign in."""
    if not key or len(key) > MAX_KEY_CHARS:
        return None
    row = (
        ApiKey.objects.filter(hash=digest(key), revoked_at__isnull=True, owner__is_active=True)
        .values_list("pk", "owner_id")
        .first()
    )
    return Caller(*row) if row else None


def admit_call(*, key_id: int, now: float, limit: int) -> float | None:
    """Count a call against the key's limit of `limit` a minute; None if admitted, else the seconds
    until the next minute starts.

    The count lives in the key's row, so every worker shares it: a conditional
    update starts a new minute or adds to the current one, and the database
    orders concurrent calls. `now` is seconds since the epoch (the caller's clock).
    """
    minute = math.floor(now / WINDOW_SECONDS)
    used = datetime.fromtimestamp(now, UTC)
    counted = dict(calls=F("calls") + 1, last_used_at=used)
    keys = ApiKey.objects.filter(pk=key_id)
    if keys.exclude(window=minute).update(window=minute, window_calls=1, **counted):
        return None
    if keys.filter(window=minute, window_calls__lt=limit).update(
        window_calls=F("window_calls") + 1, **counted
    ):
        return None
    return (minute + 1) * WINDOW_SECONDS - now


def add_tokens(*, key_id: int, tokens: int) -> None:
    if tokens > 0:
        ApiKey.objects.filter(pk=key_id).update(tokens=F("tokens") + tokens)
