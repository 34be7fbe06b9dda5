"""Conversations and their messages."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from conversations.admin.display import structured_result, thumbnails
from conversations.admin.forms import ConversationForm
from conversations.admin.images import ImageInline
from conversations.admin.tools import calls_of_reply
from conversations.models import Conversation, Image, Message
from conversations.transfer import exports
from conversations.views.images import image_file_response

MODERATED_FIELDS = ("content", "thinking")  # the only message fields the admin edits


class MessageInline(admin.StackedInline):
    model = Message
    fk_name = "conversation"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = [
        ("created_at", "role", "model", "status", "active", "version"),
        "content",
        "thinking",
        "error",
        ("done_reason", "prompt_eval_count", "eval_count", "tokens_per_second"),
        "images_preview",
        "structured_preview",
    ]
    readonly_fields = [
        "created_at",
        "role",
        "model",
        "status",
        "active",
        "version",
        "content",
        "thinking",
        "error",
        "done_reason",
        "prompt_eval_count",
        "eval_count",
        "tokens_per_second",
        "images_preview",
        "structured_preview",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).prefetch_related("images").order_by("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Tokens/s")
    def tokens_per_second(self, message: Message) -> str:
        value = message.tokens_per_second
        return f"{value:.1f}" if value else "—"

    @admin.display(description="Images")
    def images_preview(self, message: Message) -> str:
        return thumbnails(message.images.all()) or "—"

    @admin.display(description="Structured output")
    def structured_preview(self, message: Message) -> str:
        return structured_result(message)


@admin.action(description="Export selected conversations as JSON")
def export_conversations(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse:
    body = b"[\n" + b",\n".join(exports.export_json(conversation) for conversation in queryset) + b"\n]\n"
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="conversations-{timezone.now():%Y%m%d-%H%M}.json"'
    )
    return response


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    view_on_site = False  # the chat page is its owner's only
    form = ConversationForm
    list_display = [
        "__str__",
        "owner",
        "model",
        "message_count",
        "pinned",
        "from_api",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["owner"]
    list_filter = ["model", "from_api", "owner", "created_at", "updated_at"]
    search_fields = ["title", "owner__username", "messages__content"]
    date_hierarchy = "created_at"
    ordering = ["-updated_at"]
    readonly_fields = ["id", "owner", "from_api", "created_at", "updated_at"]
    fields = [
        "id",
        "owner",
        "from_api",
        "title",
        "title_source",
        "pinned",
        "model",
        "system_prompt",
        "options",
        "keep_alive",
        "created_at",
        "updated_at",
    ]
    inlines = [MessageInline]
    actions = [export_conversations]
    show_full_result_count = False  # one COUNT less per page on large tables

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        # A correlated subquery, not a JOIN + GROUP BY: the changelist's other
        # queries (date hierarchy, filter choices, counts) then never touch messages.
        count = (
            Message.objects.filter(conversation=OuterRef("pk"))
            .order_by()
            .values("conversation")
            .annotate(total=Count("pk"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(number_of_messages=Coalesce(Subquery(count, output_field=IntegerField()), 0))
        )

    @admin.display(description="Messages", ordering="number_of_messages")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.number_of_messages

    def get_urls(self) -> list[URLPattern]:
        serve = self.admin_site.admin_view
        # Before the model's own patterns, whose "<path:object_id>/" would take these.
        return [
            path("images/<uuid:image_id>/", serve(self.image_file), name="conversations_image_file"),
            path(
                "images/<uuid:image_id>/thumbnail/",
                serve(self.image_thumbnail),
                name="conversations_image_thumbnail",
            ),
            *super().get_urls(),
        ]

    def _image(self, request: HttpRequest, image_id: uuid.UUID) -> Image:
        if not request.user.has_perm("conversations.view_image"):
            raise PermissionDenied
        return get_object_or_404(Image, pk=image_id)

    def image_file(self, request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
        image = self._image(request, image_id)
        return image_file_response(image.file, image.content_type)

    def image_thumbnail(self, request: HttpRequest, image_id: uuid.UUID) -> FileResponse:
        return image_file_response(self._image(request, image_id).thumbnail, "image/webp")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages are written by the chat; the admin may only correct their text (moderation).

    Role, status, versions, statistics and the structured result describe what
    happened and hold the conversation together, so they are shown, never edited.
    """

    list_display = ["__str__", "conversation_link", "role", "status", "model", "created_at"]
    list_select_related = ["conversation"]
    list_filter = ["role", "status", "model"]
    search_fields = ["content"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "conversation_link",
        "reply_to",
        "role",
        "model",
        "status",
        "error",
        "exchange",
        "version",
        "active",
        "content",
        "thinking",
        "done_reason",
        "prompt_eval_count",
        "eval_count",
        "total_duration",
        "load_duration",
        "prompt_eval_duration",
        "eval_duration",
        "format",
        "structured_result",
        "tool_calls",
        "tool_notes",
        "created_at",
        "saved_at",
    ]
    inlines = [ImageInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Message | None = None) -> list[str]:
        # A streaming reply's text belongs to the reply that is writing it.
        if obj is not None and obj.status == Message.Status.STREAMING:
            return self.fields
        return [name for name in self.fields if name not in MODERATED_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Message, form: forms.ModelForm, change: bool) -> None:
        # Only what was edited: a whole-row save would overwrite what the chat wrote meanwhile.
        if form.changed_data:
            obj.save(update_fields=form.changed_data)

    @admin.display(description="Conversation", ordering="conversation__title")
    def conversation_link(self, message: Message) -> str:
        url = reverse("admin:conversations_conversation_change", args=[message.conversation_id])
        return format_html('<a href="{}">{}</a>', url, message.conversation)

    @admin.display(description="Structured output")
    def structured_result(self, message: Message) -> str:
        return structured_result(message)

    @admin.display(description="Tool calls")
    def tool_calls(self, message: Message) -> str:
        return calls_of_reply(message.pk)
