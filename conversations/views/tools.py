"""The tools a user may switch on, grouped by where they come from (the composer's Tools control)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from conversations.tools.registry import offer_for
from conversations.views.http import json_view


@json_view("GET")
def tools(request: HttpRequest) -> JsonResponse:
    offer = offer_for(request.user.pk)
    return JsonResponse(
        {
            "tools": [tool.shown() for tool in offer.tools],
            "down": [server.name for server in offer.down],
        }
    )
