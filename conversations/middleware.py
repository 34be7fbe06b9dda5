"""First-run redirect and the Content-Security-Policy header."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


class FirstRunMiddleware:
    """Until an account exists, every page leads to the first-run page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.has_users = False  # once true, it stays true: no query per request

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.has_users:
            self.has_users = get_user_model().objects.exists()
            setup_url = reverse("setup")
            if not self.has_users and request.path != setup_url and not request.path.startswith("/static/"):
                return redirect(setup_url)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """No inline script or style may run, whatever ends up in a page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class TimezoneMiddleware:
    """Dates (the sidebar's "Today", "Yesterday") follow the browser's time zone.

    The page stores it in a `tz` cookie, e.g. "Europe/Paris"; anything else is ignored.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get("tz", "")
        try:
            zone = zoneinfo.ZoneInfo(name) if name and len(name) < 64 else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)
