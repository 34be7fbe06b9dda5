"""Pages and small JSON endpoints; the logic lives in plain functions elsewhere."""

from __future__ import annotations

import json
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from conversations import generation, replies
from conversations.models import Conversation
from conversations.ollama import OllamaError, get_client
from conversations.protocol import MODEL_NAME


@login_not_required
def setup(request: HttpRequest) -> HttpResponse:
    """First run: the first account created here is the administrator."""
    User = get_user_model()
    if User.objects.exists():
        return redirect("home")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if User.objects.select_for_update().exists():  # someone was faster
                return redirect("login")
            user = form.save(commit=False)
            user.is_staff = user.is_superuser = True
            user.save()
        login(request, user)
        return redirect("home")
    return render(request, "accounts/setup.html", {"form": form})


def _chat_page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    conversations = (
        Conversation.objects.filter(owner=request.user)
        .only("id", "title", "updated_at")
        .order_by("-updated_at")[:200]
    )
    messages = (
        replies.recent_messages(conversation_id=conversation.pk, is_alive=generation.is_alive)
        if conversation
        else []
    )
    page_data = {
        "conversation_id": str(conversation.pk) if conversation else None,
        "model": conversation.model if conversation else None,
        "title": conversation.title if conversation else "",
        "messages": messages,
        "ws_path": f"/ws/conversations/{conversation.pk}/" if conversation else None,
        "new_url": reverse("new_conversation"),
        "models_url": reverse("models"),
        "login_url": reverse("login"),
    }
    context = {"conversations": conversations, "conversation": conversation, "page_data": page_data}
    return render(request, "conversations/chat.html", context)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _chat_page(request, None)


@require_GET
def conversation(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = get_object_or_404(Conversation, pk=conversation_id, owner=request.user)
    return _chat_page(request, conversation)


@require_POST
def new_conversation(request: HttpRequest) -> JsonResponse:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The request body must be JSON."}, status=400)
    model = data.get("model") if isinstance(data, dict) else None
    if model is not None and (not isinstance(model, str) or not MODEL_NAME.match(model)):
        return JsonResponse({"error": "That is not a valid model name."}, status=400)
    conversation = Conversation.objects.create(owner=request.user, model=model or "")
    return JsonResponse(
        {
            "id": str(conversation.pk),
            "url": conversation.get_absolute_url(),
            "ws_path": f"/ws/conversations/{conversation.pk}/",
        },
        status=201,
    )


async def models(request: HttpRequest) -> JsonResponse:
    """The models Ollama has installed, for the picker."""
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    user = await request.auser()
    if not user.is_authenticated:  # async views: check here as well
        return JsonResponse({"error": "Sign in first."}, status=401)
    try:
        installed = await get_client().list_models()
    except OllamaError as exc:
        return JsonResponse(
            {"error": {"code": exc.kind, "message": exc.message}, "host": settings.OLLAMA_HOST},
            status=502,
        )
    return JsonResponse({"models": [_model_entry(model) for model in installed]})


def _model_entry(model: dict) -> dict:
    details = model.get("details") or {}
    return {
        "name": model.get("name") or model.get("model") or "",
        "size": model.get("size"),
        "family": details.get("family") or "",
        "parameter_size": details.get("parameter_size") or "",
        "quantization": details.get("quantization_level") or "",
        "capabilities": model.get("capabilities") or [],
    }
