from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from conversations.models import Conversation, Image, Message, SavedSchema
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


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "role", "model", "status", "content", "images_preview", "eval_count"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).prefetch_related("images")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Images")
    def images_preview(self, message: Message) -> str:
        return thumbnails(message.images.all())


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "model", "created_at", "updated_at"]
    list_select_related = ["owner"]
    list_filter = ["model"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MessageInline]


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
    list_display = ["__str__", "conversation", "role", "status", "model", "created_at"]
    list_select_related = ["conversation"]
    list_filter = ["role", "status"]
    search_fields = ["content"]
    raw_id_fields = ["conversation"]
    readonly_fields = ["id", "created_at", "saved_at", "structured_result"]
    inlines = [ImageInline]

    @admin.display(description="Structured output")
    def structured_result(self, message: Message) -> str:
        result = message.structured
        if not result:
            return "—"
        errors = format_html_join(
            "", "<li><code>{}</code>: {}</li>", ((e["path"], e["message"]) for e in result["errors"])
        )
        verdict = "Valid" if result["valid"] else "Not valid"
        return format_html(
            "<p><strong>{}</strong></p><ul>{}</ul>{}", verdict, errors, structured_html(message) or ""
        )


@admin.register(SavedSchema)
class SavedSchemaAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]
