"""What every view shares: admission (methods, sign-in, staff), reading JSON from outside, and
the one shape of a JSON error.

A JSON error is {"error": {"code": "...", "message": "<a sentence>"}}, or
{"errors": {field: message}} when a form's fields are checked one by one.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from conversations import json_input, shutdown
from conversations.ollama.client import OllamaError

View = Callable[..., HttpResponse]
AsyncView = Callable[..., Awaitable[HttpResponse]]


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


class Refused(Exception):
    """A request refused: answered with `status` and an error body of `code` and `message`."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def response(self) -> JsonResponse:
        return error_response(self.code, self.message, self.status)


def ollama_failed(exc: OllamaError) -> JsonResponse:
    """Ollama's failure as an answer: a model it lacks is a 404, anything else a 502."""
    return error_response(exc.kind, exc.message, 404 if exc.kind == "model_not_found" else 502)


# Reading --------------------------------------------------------------------------


def read_json(request: HttpRequest) -> Any:
    """The body as JSON, refused if it is not JSON or holds what cannot be stored (NUL, lone
    surrogates, NaN and the infinities, deep nesting); the message says where."""
    try:
        return json_input.loads(request.body or b"null", what="The request body")
    except json_input.Unacceptable as exc:
        raise Refused(exc.message) from None


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    data = read_json(request)
    if not isinstance(data, dict):
        raise Refused("The request body must be a JSON object.")
    return data


def read_text_param(request: HttpRequest, name: str, *, limit: int) -> str:
    """A query parameter as text, at most `limit` characters; refused if it cannot be stored or searched."""
    value = request.GET.get(name, "")[:limit]
    problem = json_input.text_problem(value)
    if problem:
        raise Refused(f"{name} {problem}.")
    return value


# Admission --------------------------------------------------------------------------


def _method_refused(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse | None:
    if request.method in methods:
        return None
    response = error_response("method_not_allowed", f"Use {' or '.join(methods)}.", 405)
    response["Allow"] = ", ".join(methods)
    return response


def json_view(*methods: str) -> Callable[[View], View]:
    """A JSON endpoint: only `methods`; Refused becomes its error response.

    Sign-in is checked before (LoginRequiredMiddleware), for every view.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = _method_refused(request, methods)
            if refused is not None:
                return refused
            try:
                return view(request, *args, **kwargs)
            except Refused as exc:
                return exc.response()

        return wrapper

    return decorate


def async_json_view(*methods: str, staff: bool = False) -> Callable[[AsyncView], AsyncView]:
    """An async JSON endpoint that waits on Ollama: only `methods`, a signed-in user (and staff,
    with `staff`); Refused and OllamaError become error responses; a stopping worker ends it
    rather than waiting for Ollama (conversations/shutdown.py)."""

    def decorate(view: AsyncView) -> AsyncView:
        @functools.wraps(view)
        @shutdown.ends_when_stopping
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = _method_refused(request, methods)
            if refused is not None:
                return refused
            user = await request.auser()
            if not user.is_authenticated:  # the middleware checks too; an async view does not rely on it
                return error_response("signed_out", "Sign in first.", 401)
            if staff and not user.is_staff:
                return error_response("forbidden", "Only staff can do that.", 403)
            try:
                return await view(request, *args, **kwargs)
            except Refused as exc:
                return exc.response()
            except OllamaError as exc:
                return ollama_failed(exc)

        return wrapper

    return decorate
