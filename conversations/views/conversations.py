"""A user's conversations: start one, list and search them, rename, pin, delete, page back, and
how full the model's context is."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from conversations import sidebar
from conversations.chat import branches, events, timeline, titles
from conversations.chat.replies import ReplyRefused
from conversations.models import Conversation, Preferences
from conversations.ollama import catalog
from conversations.ollama.client import get_client, model_name
from conversations.options import InvalidSettings, Settings, clean_settings
from conversations.tools.registry import clean_keys
from conversations.views.http import Refused, async_json_view, json_view, read_json, read_text_param


def own_conversation(request: HttpRequest, conversation_id: uuid.UUID) -> Conversation:
    """The signed-in user's conversation, or 404 (another user's, or one being imported)."""
    return get_object_or_404(Conversation.objects.owned_by(request.user.pk), pk=conversation_id)


# What a new chat may bring of its own settings (set before its first message); the rest
# of them come from the user's defaults.
OWN_SETTINGS = ("system_prompt", "options", "keep_alive")


@json_view("POST")
def new_conversation(request: HttpRequest) -> JsonResponse:
    """Start a conversation on the user's defaults, or on the settings sent with it
    (`system_prompt`, `options`, `keep_alive`: any of them sent replaces all three)."""
    data = read_json(request) if request.body else {}
    if not isinstance(data, dict):
        raise Refused("The request body must be a JSON object.")
    try:
        model = model_name(data.get("model"), optional=True)
        # The tools chosen in the composer before the chat began.
        tools = clean_keys(data.get("tools"))
    except ValueError as exc:
        raise Refused(str(exc)) from None
    preferences = Preferences.objects.filter(user=request.user).first() or Preferences()
    settings: Preferences | Settings = preferences
    if any(name in data for name in OWN_SETTINGS):
        try:
            settings = clean_settings({name: data.get(name) for name in OWN_SETTINGS})
        except InvalidSettings as exc:
            return JsonResponse({"errors": exc.errors}, status=400)
    conversation = Conversation.objects.create(
        owner=request.user,
        model=model or preferences.model,
        system_prompt=settings.system_prompt,
        options=settings.options,
        keep_alive=settings.keep_alive,
        tools=tools,
    )
    return JsonResponse(
        {
            "id": str(conversation.pk),
            "url": conversation.get_absolute_url(),
            "ws_path": f"/ws/conversations/{conversation.pk}/",
        },
        status=201,
    )


@json_view("GET")
def search(request: HttpRequest) -> JsonResponse:
    """One page of the sidebar, grouped by date; `q` matches titles and message text.

    `after` is the `next` cursor of the page before; the first page has none.
    """
    after = request.GET.get("after") or None
    try:
        position = sidebar.parse_cursor(after) if after else None
    except sidebar.BadCursor:
        raise Refused("after must be the next cursor of an earlier page.") from None
    query = read_text_param(request, "q", limit=200)
    return JsonResponse(
        sidebar.listing(owner_id=request.user.pk, query=query, after=position, now=timezone.now())
    )


@json_view("POST")
def rename(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    conversation = own_conversation(request, conversation_id)
    data = read_json(request)
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        raise Refused("A title must be 1 to 200 characters.")
    titles.rename(conversation=conversation, title=" ".join(title.split()))
    async_to_sync(events.publish_title)(conversation.pk, conversation.title)
    return JsonResponse(sidebar.entry(conversation))


@json_view("POST")
def pin(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    conversation = own_conversation(request, conversation_id)
    data = read_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("pinned"), bool):
        raise Refused('Send {"pinned": true} or {"pinned": false}.')
    Conversation.objects.filter(pk=conversation.pk).update(pinned=data["pinned"])
    conversation.pinned = data["pinned"]
    return JsonResponse(sidebar.entry(conversation))


@json_view("POST")
def delete(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """Delete a conversation with its messages and images; its reply stops (signals.end_deleted_conversation)."""
    own_conversation(request, conversation_id).delete()
    return HttpResponse(status=204)


@json_view("POST")
def delete_exchange(request: HttpRequest, conversation_id: uuid.UUID, message_id: uuid.UUID) -> HttpResponse:
    """Delete a shown question with its replies and their versions (chat/branches.py); every tab
    is shown the conversation afresh."""
    conversation = own_conversation(request, conversation_id)
    try:
        branches.delete_exchange(conversation_id=conversation.pk, message_id=message_id)
    except ReplyRefused as exc:
        if exc.code == "busy":
            raise Refused(exc.message, status=409, code="busy") from None
        raise Refused("There is no such message.", status=404, code="not_found") from None
    async_to_sync(events.publish_history)(conversation.pk)
    return HttpResponse(status=204)


@json_view("GET")
def messages(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """Older messages, for scrolling up: `before` is the oldest message the page shows."""
    conversation = own_conversation(request, conversation_id)
    before = request.GET.get("before") or None
    try:
        before = str(uuid.UUID(before)) if before else None
    except ValueError:
        raise Refused("before must be a message id.") from None
    found, has_more = timeline.recent_messages(conversation_id=conversation.pk, before=before)
    return JsonResponse({"messages": found, "has_more": has_more})


@async_json_view("GET")
async def context(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """How full the model's context is, honestly (catalog.context_window says against what)."""
    user = await request.auser()
    facts = await sync_to_async(timeline.context_facts)(conversation_id=conversation_id, user_id=user.pk)
    if facts is None:
        raise Refused("There is no such conversation.", status=404, code="not_found")
    window = await catalog.context_window(get_client(), model=facts["model"], num_ctx=facts["num_ctx"])
    return JsonResponse(
        catalog.context_use(window, prompt_tokens=facts["prompt_tokens"], reply_tokens=facts["reply_tokens"])
    )
