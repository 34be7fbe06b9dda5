"""What the JSON endpoints share: reading a body from outside, and answering a bad one with 400."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, JsonResponse

from conversations import json_input

View = TypeVar("View", bound=Callable[..., Any])


class BadRequest(Exception):
    """A request refused with 400 and `message`, a sentence naming what is wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_json(request: HttpRequest) -> Any:
    """The body as JSON, refused (BadRequest) if it is not JSON or holds what cannot be stored
    (NUL, lone surrogates, NaN and the infinities, deep nesting); the message says where."""
    try:
        return json_input.loads(request.body or b"null", what="The request body")
    except json_input.Unacceptable as exc:
        raise BadRequest(exc.message) from None


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    data = read_json(request)
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def read_text_param(request: HttpRequest, name: str, *, limit: int) -> str:
    """A query parameter as text, at most `limit` characters; BadRequest if it cannot be stored or searched."""
    value = request.GET.get(name, "")[:limit]
    problem = json_input.text_problem(value)
    if problem:
        raise BadRequest(f"{name} {problem}.")
    return value


def answers_bad_requests(view: View) -> View:
    """BadRequest raised by the view becomes a 400 with {"error": message}."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except BadRequest as exc:
            return JsonResponse({"error": exc.message}, status=400)

    return wrapper  # type: ignore[return-value]
