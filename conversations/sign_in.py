"""Sign-in throttling (django-axes): the client's address, the page of a paused sign-in, what success
clears, and sign-ups counted like failed sign-ins."""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db.models import Max, Q
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from conversations.json_input import text_problem
from conversations.models import SiteSettings


class _StorableSignIn:
    """A sign-in whose failure axes could not record is refused before any password is checked.

    PostgreSQL refuses NUL in text and more characters than a column holds; a
    failure that cannot be saved would not count, and the guess would go
    unthrottled.
    """

    request: HttpRequest | None
    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # AuthenticationForm sets max_length after the field is built, so nothing checks it.
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))

    def clean(self) -> dict[str, Any]:
        meta = self.request.META if self.request is not None else {}
        for key, header in (("HTTP_USER_AGENT", "User-Agent"), ("HTTP_ACCEPT", "Accept")):
            found = text_problem(meta.get(key, ""))
            if found:
                raise ValidationError(f"Your browser's {header} header {found}, so signing in cannot go on.")
        return super().clean()  # type: ignore[misc]


class SignInForm(_StorableSignIn, AuthenticationForm):
    pass


class AdminSignInForm(_StorableSignIn, AdminAuthenticationForm):
    pass


def client_address(request: HttpRequest) -> str | None:
    """The address failed sign-ins are counted against (AXES_CLIENT_IP_CALLABLE).

    Behind TRUSTED_PROXY_COUNT proxies that each append the address they were
    reached from to X-Forwarded-For, the client's is that many entries from the
    right; anything to its left was written by the client. With no proxy
    configured the header is ignored: anyone could send it.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(hops) >= proxies and (address := _normalized(hops[-proxies])):
            return address
    return _normalized(request.META.get("REMOTE_ADDR", ""))


def _normalized(text: str) -> str | None:
    """One spelling per address, so that `::ffff:192.0.2.1` and `192.0.2.1` count together."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: dict | None = None
) -> HttpResponse:
    """The sign-in page, with its form, saying that signing in is paused and for how long (AXES_LOCKOUT_CALLABLE).

    Serves the admin's sign-in too: the form posts back to the page it was sent to.
    """
    # axes hands over the credentials in different places on its sync and async paths.
    credentials = getattr(request, "axes_credentials", None) or (
        credentials if isinstance(credentials, dict) else None
    )
    now = request.axes_attempt_time
    wait = _pause_left(
        username=get_client_username(request, credentials), address=request.axes_ip_address, now=now
    )
    minutes = max(1, math.ceil(wait / timedelta(minutes=1)))
    context = {
        "form": SignInForm(request),
        "sign_up_open": SiteSettings.current().sign_up_open,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "retry_minutes": minutes,
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response


def _pause_left(*, username: str | None, address: str | None, now: datetime) -> timedelta:
    """How long until no failure counted against this account or address is within the cool-off.

    The pause may end sooner, once enough older failures have expired: never later.
    """
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    latest = AccessAttempt.objects.filter(
        Q(username=username) | Q(ip_address=address), attempt_time__gt=now - cool_off
    ).aggregate(latest=Max("attempt_time"))["latest"]
    return max(timedelta(0), latest + cool_off - now) if latest else cool_off


@receiver(user_logged_in)
def clear_failures_of_the_account(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """Whoever knows the password has shown it: the failures against this account no longer count.

    Failures against other accounts stay, even from the same address.
    """
    AxesProxyHandler.reset_attempts(username=user.get_username())


# Sign-ups ---------------------------------------------------------------------

# In the credentials axes is given, this marks a sign-up rather than a sign-in.
SIGN_UP = "sign_up"


def lockout_parameters(request_or_attempt: Any, credentials: dict | None = None) -> list[str]:
    """What failures are counted against (AXES_LOCKOUT_PARAMETERS): the account and the address,
    each on its own; a sign-up only the address, since its username is no one's yet."""
    if credentials and credentials.get(SIGN_UP):
        return ["ip_address"]
    return ["username", "ip_address"]


def sign_up_paused(request: HttpRequest) -> bool:
    """Too many sign-ups or failed sign-ins from this address within the cool-off."""
    return AxesProxyHandler.is_locked(request, credentials={SIGN_UP: True})


def count_sign_up(request: HttpRequest) -> None:
    """Every sign-up sent counts against its address like a failed sign-in, so that nobody
    makes accounts by the hundred. This one was let through; the next is refused on its page."""
    user_login_failed.send(sender=__name__, credentials={SIGN_UP: True}, request=request)
    request.axes_locked_out = False  # type: ignore[attr-defined]
