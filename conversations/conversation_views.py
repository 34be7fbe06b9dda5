"""Managing conversations: search, rename, pin, delete, settings, paging, context, export, import."""

from __future__ import annotations

import uuid
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from conversations import exports, imports, sidebar
from conversations.chat import events, timeline, titles
from conversations.http import BadRequest, answers_bad_requests, read_json, read_text_param
from conversations.models import Conversation, Message, Preferences
from conversations.ollama import catalog
from conversations.ollama.client import OllamaError, get_client
from conversations.options import InvalidSettings, clean_settings

# A conversation is "full" once its prompt uses this share of the context.
FULL_CONTEXT_SHARE = 0.9


def _own(request: HttpRequest, conversation_id: uuid.UUID) -> Conversation:
    return get_object_or_404(Conversation.objects.owned_by(request.user.pk), pk=conversation_id)


@require_GET
@answers_bad_requests
def search(request: HttpRequest) -> JsonResponse:
    """One page of the sidebar, grouped by date; `q` matches titles and message text.

    `after` is the `next` cursor of the page before; the first page has none.
    """
    after = request.GET.get("after") or None
    try:
        position = sidebar.parse_cursor(after) if after else None
    except sidebar.BadCursor:
        return JsonResponse({"error": "after must be the next cursor of an earlier page."}, status=400)
    return JsonResponse(
        sidebar.listing(
            owner_id=request.user.pk,
            query=read_text_param(request, "q", limit=200),
            after=position,
            now=timezone.now(),
        )
    )


@require_POST
@answers_bad_requests
def rename(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    conversation = _own(request, conversation_id)
    data = read_json(request)
    title = data.get("title") if isinstance(data, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
        return JsonResponse({"error": "A title must be 1 to 200 characters."}, status=400)
    titles.rename(conversation=conversation, title=" ".join(title.split()))
    async_to_sync(events.publish_title)(conversation.pk, conversation.title)
    return JsonResponse(sidebar.entry(conversation))


@require_POST
@answers_bad_requests
def pin(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    conversation = _own(request, conversation_id)
    data = read_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("pinned"), bool):
        return JsonResponse({"error": 'Send {"pinned": true} or {"pinned": false}.'}, status=400)
    Conversation.objects.filter(pk=conversation.pk).update(pinned=data["pinned"])
    conversation.pinned = data["pinned"]
    return JsonResponse(sidebar.entry(conversation))


@require_POST
def delete(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """Delete a conversation with its messages and images; its reply stops (signals.end_deleted_conversation)."""
    _own(request, conversation_id).delete()
    return HttpResponse(status=204)


def _settings_data(source: Conversation | Preferences) -> dict[str, Any]:
    return {
        "model": source.model,
        "system_prompt": source.system_prompt,
        "options": source.options,
        "keep_alive": source.keep_alive,
    }


def _save_settings(request: HttpRequest, target: Conversation | Preferences) -> JsonResponse:
    try:
        cleaned = clean_settings(read_json(request))
    except InvalidSettings as exc:
        return JsonResponse({"errors": exc.errors}, status=400)
    except BadRequest as exc:
        return JsonResponse({"errors": {"__all__": exc.message}}, status=400)
    # Empty keeps a conversation's model but clears the default one: new chats
    # then start on the model picked in the chat.
    if cleaned.model or isinstance(target, Preferences):
        target.model = cleaned.model
    target.system_prompt = cleaned.system_prompt
    target.options = cleaned.options
    target.keep_alive = cleaned.keep_alive
    target.save()
    return JsonResponse(_settings_data(target))


def conversation_settings(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """GET or POST a conversation's model, system prompt, options and keep_alive."""
    conversation = _own(request, conversation_id)
    if request.method == "POST":
        return _save_settings(request, conversation)
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    return JsonResponse(_settings_data(conversation))


def default_settings(request: HttpRequest) -> JsonResponse:
    """GET or POST the settings new conversations start with."""
    preferences, _ = Preferences.objects.get_or_create(user=request.user)
    if request.method == "POST":
        return _save_settings(request, preferences)
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    return JsonResponse(_settings_data(preferences))


@require_GET
def messages(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """Older messages, for scrolling up: `before` is the oldest message the page shows."""
    conversation = _own(request, conversation_id)
    before = request.GET.get("before") or None
    try:
        before = str(uuid.UUID(before)) if before else None
    except ValueError:
        return JsonResponse({"error": "before must be a message id."}, status=400)
    found, has_more = timeline.recent_messages(conversation_id=conversation.pk, before=before)
    return JsonResponse({"messages": found, "has_more": has_more})


def _context_facts(conversation_id: uuid.UUID, user_id: int) -> dict[str, Any] | None:
    conversation = Conversation.objects.owned_by(user_id).filter(pk=conversation_id).first()
    if conversation is None:
        return None
    last = (
        conversation.messages.filter(
            role=Message.Role.ASSISTANT, active=True, prompt_eval_count__isnull=False
        )
        .order_by("-created_at")
        .values("prompt_eval_count", "eval_count", "model")
        .first()
    )
    return {"model": conversation.model, "num_ctx": (conversation.options or {}).get("num_ctx"), "last": last}


async def context(request: HttpRequest, conversation_id: uuid.UUID) -> JsonResponse:
    """How full the model's context is, honestly.

    The context length is num_ctx when set; else what the loaded model really
    runs with (/api/ps), which is often far below the model's maximum; else the
    model's maximum from /api/show.
    """
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "Sign in first."}, status=401)
    facts = await sync_to_async(_context_facts)(conversation_id, user.pk)
    if facts is None:
        return JsonResponse({"error": "Not found."}, status=404)
    last = facts["last"] or {}
    model = last.get("model") or facts["model"]
    length, source = facts["num_ctx"], "num_ctx"
    if not length and model:
        client = get_client()
        try:
            length, source = await catalog.loaded_context(client, model), "loaded"
            if not length:
                info = await catalog.show(client, model) or {}
                length, source = catalog.context_length(info), "model"
        except OllamaError:
            length = None
    prompt = last.get("prompt_eval_count")
    full = bool(prompt and length and prompt >= length * FULL_CONTEXT_SHARE)
    return JsonResponse(
        {
            "prompt_tokens": prompt,
            "context_length": length or None,
            "source": source if length else None,
            "full": full,
        }  # fmt: skip
    )


@require_GET
def export(request: HttpRequest, conversation_id: uuid.UUID, kind: str) -> HttpResponse:
    conversation = _own(request, conversation_id)
    name = slugify(conversation.title)[:60] or "conversation"
    if kind == "md":
        body, content_type = exports.export_markdown(conversation).encode(), "text/markdown; charset=utf-8"
    elif kind == "json":
        body, content_type = exports.export_json(conversation), "application/json"
    elif kind == "zip":
        body, content_type = exports.export_zip(conversation), "application/zip"
    else:
        raise Http404("Exports are .md, .json or .zip.")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


def _too_large(size: int) -> JsonResponse:
    limit = settings.MAX_IMPORT_BYTES
    return JsonResponse(
        {"error": f"The file is {size / 2**20:.1f} MB; an import may be at most {limit / 2**20:.1f} MB."},
        status=400,
    )


@require_POST
def import_conversation(request: HttpRequest) -> JsonResponse:
    """A JSON or zip export, recreated for this user, all or nothing (conversations/imports.py);
    bodies over the limit never get here (chatsite/body_limits.py)."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError:
        return JsonResponse(
            {"error": "The upload is damaged (not a well-formed multipart form)."}, status=400
        )
    if upload is None:
        return JsonResponse({"error": "Choose an exported .json or .zip file."}, status=400)
    if upload.size is not None and upload.size > settings.MAX_IMPORT_BYTES:
        return _too_large(upload.size)
    try:
        conversation_id = imports.import_upload(owner_id=request.user.pk, upload=upload)
    except imports.ImportRejected as exc:
        return JsonResponse({"error": exc.message}, status=400)
    url = reverse("conversation", args=[conversation_id])
    return JsonResponse({"id": str(conversation_id), "url": url}, status=201)
