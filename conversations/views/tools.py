"""Tools over HTTP: those a user may switch on (the composer's Tools control), and a conversation's choice."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse

from conversations.tools.registry import clean_keys, offer_for
from conversations.views.conversations import own_conversation
from conversations.views.http import json_view, read_json


@json_view("GET")
def tools(request: HttpRequest) -> JsonResponse:
    offer = offer_for(request.user.pk)
    return JsonResponse(
        {
            "tools": [tool.shown() for tool in offer.tools],
            "down": [server.name for server in offer.down],
        }
    )


@json_view("GET", "POST")
def conversation_tools(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """The keys of the tools switched on in a conversation; a POST of {"tools": [...]} replaces them."""
    conversation = own_conversation(request, conversation_id)
    if request.method == "POST":
        data = read_json(request)
        try:
            if not isinstance(data, dict):
                raise ValueError('Send {"tools": [...]}.')
            conversation.tools = clean_keys(data.get("tools"))
        except ValueError as exc:
            return JsonResponse({"errors": {"tools": str(exc)}}, status=400)
        conversation.save(update_fields=["tools"])
    return JsonResponse({"tools": conversation.tools})
