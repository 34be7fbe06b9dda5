"""The pages: first run (the administrator's account) and the chat, empty or on a conversation."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from conversations import sidebar
from conversations.chat import events, liveness, replies, timeline
from conversations.models import Conversation, Preferences


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
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "accounts/setup.html", {"form": form})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _chat_page(request, None)


@require_GET
def conversation(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.owned_by(request.user.pk), pk=conversation_id)
    return _chat_page(request, conversation)


def _chat_page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    first_page = sidebar.page(owner_id=request.user.pk)
    conversations = first_page.conversations
    messages, has_more = [], False
    if conversation:
        dead = replies.interrupt_dead_replies(conversation_id=conversation.pk, is_alive=liveness.is_alive)
        if dead:
            async_to_sync(events.announce_interrupted)(dead)
        messages, has_more = timeline.recent_messages(conversation_id=conversation.pk)
    page_data = {
        "conversation_id": str(conversation.pk) if conversation else None,
        # A new chat starts on the user's default model, if they chose one.
        "model": conversation.model if conversation else _default_model(request.user.pk) or None,
        "title": conversation.title if conversation else "",
        "messages": messages,
        "has_more": has_more,
        "ws_path": f"/ws/conversations/{conversation.pk}/" if conversation else None,
        "new_url": reverse("new_conversation"),
        "models_url": reverse("models"),
        "tools_url": reverse("tools"),
        "login_url": reverse("login"),
        "upload_url": reverse("upload_image"),
        "schemas_url": reverse("schemas"),
        "search_url": reverse("search"),
        "import_url": reverse("import_conversation"),
        "defaults_url": reverse("default_settings"),
        "max_images": settings.MAX_IMAGES_PER_MESSAGE,
        "max_image_bytes": settings.MAX_IMAGE_BYTES,
    }
    context = {
        "conversations": conversations,
        "groups": sidebar.grouped(conversations, now=timezone.now()),
        "sidebar_next": first_page.next,
        "conversation": conversation,
        "page_data": page_data,
    }
    return render(request, "conversations/chat.html", context)


def _default_model(user_id: int) -> str:
    return Preferences.objects.filter(user_id=user_id).values_list("model", flat=True).first() or ""
