"""Pages and small JSON endpoints; the logic lives in plain functions elsewhere."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from conversations import images, shutdown, sidebar
from conversations.chat import events, liveness, replies, timeline
from conversations.http import answers_bad_requests, read_json, read_json_object
from conversations.models import Conversation, Image, Preferences, SavedSchema
from conversations.ollama import catalog
from conversations.ollama.client import OllamaError, get_client, model_name
from conversations.structured import formats


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
        "model": conversation.model if conversation else _default_model(request.user) or None,
        "title": conversation.title if conversation else "",
        "messages": messages,
        "has_more": has_more,
        "ws_path": f"/ws/conversations/{conversation.pk}/" if conversation else None,
        "new_url": reverse("new_conversation"),
        "models_url": reverse("models"),
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


def _default_model(user) -> str:
    return Preferences.objects.filter(user=user).values_list("model", flat=True).first() or ""


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return _chat_page(request, None)


@require_GET
def conversation(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = get_object_or_404(Conversation.objects.owned_by(request.user.pk), pk=conversation_id)
    return _chat_page(request, conversation)


@require_POST
@answers_bad_requests
def new_conversation(request: HttpRequest) -> JsonResponse:
    data = read_json(request) if request.body else {}
    try:
        model = model_name(data.get("model") if isinstance(data, dict) else None, optional=True)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    defaults = Preferences.objects.filter(user=request.user).first() or Preferences()
    conversation = Conversation.objects.create(
        owner=request.user,
        model=model or defaults.model,
        system_prompt=defaults.system_prompt,
        options=defaults.options,
        keep_alive=defaults.keep_alive,
    )
    return JsonResponse(
        {
            "id": str(conversation.pk),
            "url": conversation.get_absolute_url(),
            "ws_path": f"/ws/conversations/{conversation.pk}/",
        },
        status=201,
    )


@shutdown.ends_when_stopping
async def models(request: HttpRequest) -> JsonResponse:
    """The models Ollama has installed, with what each can do, for the picker."""
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    user = await request.auser()
    if not user.is_authenticated:  # async views: check here as well
        return JsonResponse({"error": "Sign in first."}, status=401)
    try:
        return JsonResponse({"models": await catalog.installed(get_client())})
    except OllamaError as exc:
        return JsonResponse(
            {"error": {"code": exc.kind, "message": exc.message}, "host": settings.OLLAMA_HOST},
            status=502,
        )


@require_POST
def upload_image(request: HttpRequest) -> JsonResponse:
    """One image per request; the chat frame then refers to it by id (bodies over the limit
    never get here: chatsite/body_limits.py)."""
    try:
        upload = request.FILES.get("file")
    except MultiPartParserError:
        return JsonResponse(
            {"error": "The upload is damaged (not a well-formed multipart form)."}, status=400
        )
    if upload is None:
        return JsonResponse({"error": "Attach an image file."}, status=400)
    try:
        image = images.store_upload(owner_id=request.user.pk, upload=upload)
    except images.ImageRejected as exc:
        return JsonResponse({"error": exc.message}, status=400)
    except images.QuotaFull as exc:  # room comes back when uploads are sent or removed
        return JsonResponse({"error": exc.message}, status=429)
    return JsonResponse(images.image_data(image), status=201)


@require_POST
def remove_image(request: HttpRequest, image_id: uuid.UUID) -> HttpResponse:
    """Take back an upload that was not sent (the composer's Remove): its row and files go."""
    get_object_or_404(Image, pk=image_id, owner=request.user, message__isnull=True).delete()
    return HttpResponse(status=204)


def _own_image(request: HttpRequest, image_id: uuid.UUID) -> Image:
    # Only to its owner, staff included; the admin serves images through its own route.
    return get_object_or_404(Image, pk=image_id, owner=request.user)


def image_file_response(field, content_type: str) -> FileResponse:
    response = FileResponse(field.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=86400"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_GET
def image(request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
    found = _own_image(request, image_id)
    return image_file_response(found.file, found.content_type)


@require_GET
def image_thumbnail(request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
    found = _own_image(request, image_id)
    return image_file_response(found.thumbnail, "image/webp")


@answers_bad_requests
def schemas(request: HttpRequest) -> JsonResponse:
    """The user's saved schemas: GET lists them, POST saves one by name (replacing it)."""
    if request.method == "GET":
        saved = SavedSchema.objects.filter(owner=request.user).order_by("name")
        return JsonResponse({"schemas": [_schema_entry(entry) for entry in saved]})
    if request.method != "POST":
        return JsonResponse({"error": "Method not allowed."}, status=405)
    data = read_json_object(request)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        return JsonResponse({"error": "Give the schema a name of at most 100 characters."}, status=400)
    if not isinstance(data.get("schema"), dict):
        return JsonResponse({"error": "The schema must be a JSON object."}, status=400)
    try:
        schema = formats.check_format(data["schema"])
    except formats.SchemaRejected as exc:
        return JsonResponse({"error": exc.message}, status=400)
    entry, created = SavedSchema.objects.update_or_create(
        owner=request.user, name=name.strip(), defaults={"schema": schema}
    )
    return JsonResponse(_schema_entry(entry), status=201 if created else 200)


@require_POST
def delete_schema(request: HttpRequest, schema_id: int) -> HttpResponse:
    get_object_or_404(SavedSchema, pk=schema_id, owner=request.user).delete()
    return HttpResponse(status=204)


def _schema_entry(entry: SavedSchema) -> dict:
    return {"id": entry.pk, "name": entry.name, "schema": entry.schema}
