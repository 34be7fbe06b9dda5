"""The admin: browse conversations, their messages, images and structured results."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from conversations import exports
from conversations.models import Conversation, Image, Message, Preferences, SavedSchema
from conversations.protocol import structured_html


def thumbnails(images) -> str:
    return format_html_join(
        " ",
        '<a href="{}"><img src="{}" alt="Image {}×{}" height="64"></a>',
        (
            (image.get_absolute_url(), image.get_thumbnail_url(), image.width, image.height)
            for image in images
        ),
    )


def structured_result(message: Message) -> str:
    result = message.structured
    if not result:
        return "—"
    errors = format_html_join(
        "", "<li><code>{}</code>: {}</li>", ((error["path"], error["message"]) for error in result["errors"])
    )
    verdict = "Valid" if result["valid"] else "Not valid"
    return format_html(
        "<p><strong>{}</strong></p><ul>{}</ul>{}", verdict, errors, structured_html(message) or ""
    )


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
        "created_at", "role", "model", "status", "active", "version", "content", "thinking", "error",
        "done_reason", "prompt_eval_count", "eval_count", "tokens_per_second", "images_preview",
        "structured_preview",
    ]  # fmt: skip

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
    list_display = ["__str__", "owner", "model", "message_count", "pinned", "created_at", "updated_at"]
    list_select_related = ["owner"]
    list_filter = ["model", "owner", "created_at", "updated_at"]
    search_fields = ["title", "owner__username", "messages__content"]
    date_hierarchy = "created_at"
    ordering = ["-updated_at"]
    readonly_fields = ["id", "owner", "created_at", "updated_at"]
    fields = ["id", "owner", "title", "title_source", "pinned", "model", "system_prompt", "options",
              "keep_alive", "created_at", "updated_at"]  # fmt: skip
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


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    fields = ["preview", "content_type", "width", "height", "byte_size", "sha256"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Image")
    def preview(self, image: Image) -> str:
        return thumbnails([image])


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "conversation_link", "role", "status", "model", "created_at"]
    list_select_related = ["conversation"]
    list_filter = ["role", "status", "model"]
    search_fields = ["content"]
    date_hierarchy = "created_at"
    raw_id_fields = ["conversation", "reply_to"]
    readonly_fields = ["id", "conversation_link", "created_at", "saved_at", "structured_result"]
    inlines = [ImageInline]

    @admin.display(description="Conversation", ordering="conversation__title")
    def conversation_link(self, message: Message) -> str:
        url = reverse("admin:conversations_conversation_change", args=[message.conversation_id])
        return format_html('<a href="{}">{}</a>', url, message.conversation)

    @admin.display(description="Structured output")
    def structured_result(self, message: Message) -> str:
        return structured_result(message)


@admin.register(SavedSchema)
class SavedSchemaAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ["user", "model"]
    list_select_related = ["user"]
