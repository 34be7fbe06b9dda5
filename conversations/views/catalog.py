"""The models Ollama has installed, with what each can do: the chat's picker and the Models page."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from conversations.ollama import catalog
from conversations.ollama.client import get_client
from conversations.views.http import async_json_view


@async_json_view("GET")
async def models(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"models": await catalog.installed(get_client())})
