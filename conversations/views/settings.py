"""Generation settings: a conversation's, and the defaults a user's new conversations start with."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, JsonResponse

from conversations.models import Conversation, Preferences
from conversations.options import InvalidSettings, clean_settings
from conversations.views.conversations import own_conversation
from conversations.views.http import Refused, json_view, read_json


@json_view("GET", "POST")
def conversation_settings(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """A conversation's model, system prompt, options and keep_alive."""
    conversation = own_conversation(request, conversation_id)
    if request.method == "POST":
        return _save(request, conversation)
    return JsonResponse(_shown(conversation))


@json_view("GET", "POST")
def default_settings(request: HttpRequest) -> JsonResponse:
    """The settings new conversations start with."""
    preferences, _ = Preferences.objects.get_or_create(user=request.user)
    if request.method == "POST":
        return _save(request, preferences)
    return JsonResponse(_shown(preferences))


def _shown(source: Conversation | Preferences) -> dict[str, Any]:
    return {
        "model": source.model,
        "system_prompt": source.system_prompt,
        "options": source.options,
        "keep_alive": source.keep_alive,
    }


def _save(request: HttpRequest, target: Conversation | Preferences) -> JsonResponse:
    try:
        cleaned = clean_settings(read_json(request))
    except InvalidSettings as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    except Refused as exc:
        return JsonResponse({"errors": {"__all__": exc.message}}, status=400)
    # Empty keeps a conversation's model but clears the default one: new chats
    # then start on the model picked in the chat.
    if cleaned.model or isinstance(target, Preferences):
        target.model = cleaned.model
    target.system_prompt = cleaned.system_prompt
    target.options = cleaned.options
    target.keep_alive = cleaned.keep_alive
    target.save()
    return JsonResponse(_shown(target))
