"""The Models page and its JSON endpoints: whether Ollama answers, what is loaded, a model's
details; load and unload (any signed-in user); delete and copy (staff).

The installed models come from the chat's own endpoint (conversations/views/catalog.py);
pulls go over the models socket (consumer.py) because they outlive requests.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from conversations.ollama import catalog
from conversations.ollama.client import OllamaClient, OllamaError, full_name, get_client, model_name
from conversations.views.http import Refused, async_json_view, read_json_object


@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    page_data = {
        "is_staff": request.user.is_staff,
        "ws_path": "/ws/models/",
        "host": settings.OLLAMA_HOST,
        "urls": {
            "status": reverse("models_status"),
            "installed": reverse("models"),
            "running": reverse("models_running"),
            "details": reverse("models_details"),
            "load": reverse("models_load"),
            "unload": reverse("models_unload"),
            "delete": reverse("models_delete"),
            "copy": reverse("models_copy"),
            "login": reverse("login"),
        },
    }
    return render(request, "ollama_models/models.html", {"page_data": page_data})


def _model(value: Any, *, field: str = "model") -> str:
    try:
        return model_name(value)
    except ValueError:
        raise Refused(f"{field.capitalize()}: that is not a valid model name.") from None


def _missing(exc: OllamaError, model: str) -> OllamaError:
    """Ollama's 404 for a model, said of the model named on this page."""
    if exc.kind == "model_not_found":
        return OllamaError("model_not_found", f"Ollama has no model named {model}.")
    return exc


# Reading --------------------------------------------------------------------


@async_json_view("GET")
async def status(request: HttpRequest) -> JsonResponse:
    """Whether Ollama answers, and its version; always 200 so the page can say which."""
    try:
        version = await get_client().version()
    except OllamaError as exc:
        return JsonResponse(
            {"reachable": False, "version": "", "host": settings.OLLAMA_HOST, "error": exc.message}
        )
    return JsonResponse({"reachable": True, "version": version, "host": settings.OLLAMA_HOST, "error": ""})


@async_json_view("GET")
async def running(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": await catalog.running(get_client())})


@async_json_view("GET")
async def details(request: HttpRequest) -> JsonResponse:
    name = _model(request.GET.get("model"))
    info = await catalog.show(get_client(), name)
    if info is None:
        raise Refused(f"Ollama has no model named {name}.", status=404, code="model_not_found")
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
    """Load or unload a model; answers with the running models."""
    name = _model(read_json_object(request).get("model"))
    client = get_client()
    try:
        await change(client, name)
    except OllamaError as exc:
        raise _missing(exc, name) from None
    return JsonResponse({"running": await catalog.running(client)})


@async_json_view("POST")
async def load(request: HttpRequest) -> JsonResponse:
    """Warm a model into memory."""
    return await _change_loaded(request, OllamaClient.load)


@async_json_view("POST")
async def unload(request: HttpRequest) -> JsonResponse:
    return await _change_loaded(request, OllamaClient.unload)


@async_json_view("POST", staff=True)
async def delete(request: HttpRequest) -> JsonResponse:
    name = _model(read_json_object(request).get("model"))
    try:
        await get_client().delete(name)
    except OllamaError as exc:
        raise _missing(exc, name) from None
    finally:
        catalog.forget()
    return JsonResponse({"deleted": name})


@async_json_view("POST", staff=True)
async def copy(request: HttpRequest) -> JsonResponse:
    """Copy `source` to `destination`; a model already named `destination` is replaced only when
    the request says `"overwrite": true`, so a page that has not seen it cannot replace it unasked."""
    data = read_json_object(request)
    source = _model(data.get("source"), field="source")
    destination = _model(data.get("destination"), field="destination")
    overwrite = data.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise Refused("overwrite must be true or false.")
    if full_name(source) == full_name(destination):
        raise Refused("A model cannot be copied onto itself; give the copy another name.")
    client = get_client()
    if not overwrite and full_name(destination) in {
        full_name(m.get("name") or m.get("model") or "") for m in await client.list_models()
    }:
        raise Refused(
            f"Replace {full_name(destination)} with a copy of {full_name(source)}?", status=409, code="exists"
        )
    try:
        await client.copy(source=source, destination=destination)
    except OllamaError as exc:
        raise _missing(exc, source) from None
    finally:
        catalog.forget()
    return JsonResponse({"source": source, "destination": destination}, status=201)
