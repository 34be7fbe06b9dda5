"""The Models page and its JSON endpoints: list, details, load, unload, delete, copy.

Pulls go over the models socket (model_consumers.py) because they outlive requests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conversations import shutdown
from conversations.http import BadRequest, read_json_object
from conversations.ollama import catalog
from conversations.ollama.client import OllamaClient, OllamaError, get_client, model_name


@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    page_data = {
        "is_staff": request.user.is_staff,
        "ws_path": "/ws/models/",
        "host": settings.OLLAMA_HOST,
        "urls": {
            "status": reverse("models_status"),
            "installed": reverse("models_installed"),
            "running": reverse("models_running"),
            "details": reverse("models_details"),
            "load": reverse("models_load"),
            "unload": reverse("models_unload"),
            "delete": reverse("models_delete"),
            "copy": reverse("models_copy"),
            "login": reverse("login"),
        },
    }
    return render(request, "conversations/models.html", {"page_data": page_data})


# Admission ------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = JsonResponse({"error": message}, status=status)


async def _user(request: HttpRequest, *, staff: bool = False) -> AbstractBaseUser:
    user = await request.auser()
    if not user.is_authenticated:  # async views: check here as well
        raise Refused(401, "Sign in first.")
    if staff and not user.is_staff:
        raise Refused(403, "Only staff can do that.")
    return user


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        return read_json_object(request)
    except BadRequest as exc:
        raise Refused(400, exc.message) from None


def _model_name(value: Any, *, field: str = "model") -> str:
    try:
        return model_name(value)
    except ValueError:
        raise Refused(400, f"{field.capitalize()}: that is not a valid model name.") from None


def _ollama_failed(exc: OllamaError, model: str = "") -> JsonResponse:
    if exc.kind == "model_not_found":
        message = f"Ollama has no model named {model}." if model else exc.message
        return JsonResponse({"error": {"code": exc.kind, "message": message}}, status=404)
    return JsonResponse({"error": {"code": exc.kind, "message": exc.message}}, status=502)


# Reading --------------------------------------------------------------------


@require_GET
@shutdown.ends_when_stopping
async def status(request: HttpRequest) -> JsonResponse:
    """Whether Ollama answers, and its version; always 200 so the page can say which."""
    try:
        await _user(request)
    except Refused as refused:
        return refused.response
    try:
        version = await get_client().version()
    except OllamaError as exc:
        return JsonResponse(
            {"reachable": False, "version": "", "host": settings.OLLAMA_HOST, "error": exc.message}
        )
    return JsonResponse({"reachable": True, "version": version, "host": settings.OLLAMA_HOST, "error": ""})


@require_GET
@shutdown.ends_when_stopping
async def installed(request: HttpRequest) -> JsonResponse:
    try:
        await _user(request)
    except Refused as refused:
        return refused.response
    try:
        return JsonResponse({"models": await catalog.installed(get_client())})
    except OllamaError as exc:
        return _ollama_failed(exc)


@require_GET
@shutdown.ends_when_stopping
async def running(request: HttpRequest) -> JsonResponse:
    try:
        await _user(request)
    except Refused as refused:
        return refused.response
    try:
        return JsonResponse({"models": await catalog.running(get_client())})
    except OllamaError as exc:
        return _ollama_failed(exc)


@require_GET
@shutdown.ends_when_stopping
async def details(request: HttpRequest) -> JsonResponse:
    try:
        await _user(request)
        name = _model_name(request.GET.get("model"))
    except Refused as refused:
        return refused.response
    try:
        info = await catalog.show(get_client(), name)
    except OllamaError as exc:
        return _ollama_failed(exc, name)
    if info is None:
        return JsonResponse({"error": f"Ollama has no model named {name}."}, status=404)
    return JsonResponse(
        {
            "name": name,
            "capabilities": catalog.capabilities_of(info),
            "context_length": catalog.context_length(info),
            "parameters": info.get("parameters") or "",
            "template": info.get("template") or "",
            "system": info.get("system") or "",
            "license": info.get("license") or "",
            "details": info.get("details") or {},
        }
    )


# Changing -------------------------------------------------------------------


async def _change_loaded(request: HttpRequest, change: Any) -> JsonResponse:
    """Load or unload a model (any signed-in user); answers with the running models."""
    try:
        await _user(request)
        name = _model_name(_body(request).get("model"))
    except Refused as refused:
        return refused.response
    try:
        await change(get_client(), name)
        return JsonResponse({"running": await catalog.running(get_client())})
    except OllamaError as exc:
        return _ollama_failed(exc, name)


@require_POST
@shutdown.ends_when_stopping
async def load(request: HttpRequest) -> JsonResponse:
    """Warm a model into memory."""
    return await _change_loaded(request, OllamaClient.load)


@require_POST
@shutdown.ends_when_stopping
async def unload(request: HttpRequest) -> JsonResponse:
    return await _change_loaded(request, OllamaClient.unload)


@require_POST
@shutdown.ends_when_stopping
async def delete(request: HttpRequest) -> JsonResponse:
    try:
        await _user(request, staff=True)
        name = _model_name(_body(request).get("model"))
    except Refused as refused:
        return refused.response
    try:
        await get_client().delete(name)
    except OllamaError as exc:
        return _ollama_failed(exc, name)
    finally:
        catalog.forget()
    return JsonResponse({"deleted": name})


@require_POST
@shutdown.ends_when_stopping
async def copy(request: HttpRequest) -> JsonResponse:
    try:
        await _user(request, staff=True)
        data = _body(request)
        source = _model_name(data.get("source"), field="source")
        destination = _model_name(data.get("destination"), field="destination")
    except Refused as refused:
        return refused.response
    try:
        await get_client().copy(source=source, destination=destination)
    except OllamaError as exc:
        return _ollama_failed(exc, source)
    finally:
        catalog.forget()
    return JsonResponse({"source": source, "destination": destination}, status=201)
