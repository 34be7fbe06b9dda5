"""What staff may change about an account, and one-time sign-in links.

One rule each: nobody locks themselves out (deactivating, demoting or resetting
their own account), and only a superuser changes a superuser's account.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class NotAllowed(Exception):
    """A change refused; `message` says why, as a sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _check(actor: Any, user: Any, *, own: str) -> None:
    if user.pk == actor.pk:
        raise NotAllowed(own)
    if user.is_superuser and not actor.is_superuser:
        raise NotAllowed("Only a superuser can change a superuser's account.")


def set_active(*, actor: Any, user: Any, active: bool) -> None:
    """Deactivating ends the user's sessions: their tabs hear of it (conversations/signals.py)."""
    _check(actor, user, own="You cannot deactivate your own account.")
    user.is_active = active
    user.save(update_fields=["is_active"])


def set_staff(*, actor: Any, user: Any, staff: bool) -> None:
    _check(actor, user, own="You cannot remove your own staff rights.")
    user.is_staff = staff
    user.save(update_fields=["is_staff"])


def reset_password(*, actor: Any, user: Any) -> None:
    """The old password and any earlier link stop working; the user's sessions end with them."""
    _check(actor, user, own="Change your own password on your Account page.")
    user.set_unusable_password()
    user.save(update_fields=["password"])


def sign_in_link(request: HttpRequest, user: Any) -> str:
    """A link that lets the person set a password once.

    Django's token covers the password hash and the last sign-in, so it stops
    working once the password is set (or reset again), and after
    PASSWORD_RESET_TIMEOUT (three days).
    """
    path = reverse(
        "welcome",
        args=[urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)],
    )
    return request.build_absolute_uri(path)
