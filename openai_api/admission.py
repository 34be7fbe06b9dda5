"""Admitting an API call: the method, `Authorization: Bearer <key>` (never a cookie, so no CSRF),
the key's rate limit, and every refusal in OpenAI's error shape."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from conversations import json_input, shutdown
from conversations.ollama.client import OllamaError
from openai_api import keys
from openai_api.keys import Caller
from openai_api.shapes import ApiError

ApiView = Callable[..., Awaitable[HttpResponse]]

# Seconds since the epoch; tests put their own clock here.
clock: Callable[[], float] = time.time


def ollama_refusal(exc: OllamaError) -> ApiError:
    """Ollama's failure as a call's: a model it lacks is a 404, anything else a 503 with the page's text."""
    if exc.kind == "model_not_found":
        return ApiError(404, exc.message, code="model_not_found", param="model")
    return ApiError(503, exc.message, code="ollama_unavailable")


def bearer_key(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def api_view(*methods: str) -> Callable[[ApiView], ApiView]:
    """An endpoint of /v1/: the view gets the Caller after the request itself."""

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt  # a key in a header, never a cookie: no other site can make a browser send it
        @login_not_required
        @functools.wraps(view)
        @shutdown.ends_when_stopping
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise ApiError(405, f"Use {' or '.join(methods)}.", code="method_not_allowed")
                caller = await admit(request)
                return await view(request, caller, *args, **kwargs)
            except ApiError as exc:
                return exc.response()
            except OllamaError as exc:
                return ollama_refusal(exc).response()

        return wrapper

    return decorate


async def admit(request: HttpRequest) -> Caller:
    key = bearer_key(request)
    if not key:
        raise ApiError(
            401,
            "No API key: send it as `Authorization: Bearer <key>`. Make one on the API keys page.",
            code="invalid_api_key",
        )
    if json_input.text_problem(key) or not key.isascii():
        caller = None
    else:
        caller = await database_sync_to_async(keys.find_caller)(key)
    if caller is None:
        raise ApiError(401, "Incorrect API key provided, or it was revoked.", code="invalid_api_key")
    wait = await database_sync_to_async(keys.admit_call)(
        key_id=caller.key_id, now=clock(), limit=settings.API_RATE_LIMIT
    )
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"Rate limit reached: this key may make {settings.API_RATE_LIMIT} calls a minute. "
            f"Try again in {seconds} s.",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(seconds)},
        )
    return caller
