"""Uploaded images: their own list, and inline on a message."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html

from conversations.admin.display import thumbnails
from conversations.models import Image


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


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    """Every uploaded image with its owner and conversation; shown through the admin's own routes."""

    list_display = [
        "preview",
        "owner",
        "conversation_link",
        "size",
        "dimensions",
        "content_type",
        "created_at",
    ]
    list_select_related = ["owner", "message__conversation"]
    list_filter = ["content_type", "created_at"]
    search_fields = ["owner__username", "message__conversation__title", "sha256"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = [
        "preview",
        "owner",
        "conversation_link",
        "content_type",
        "dimensions",
        "size",
        "sha256",
        "created_at",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Image")
    def preview(self, image: Image) -> str:
        return thumbnails([image])

    @admin.display(description="Conversation", ordering="message__conversation__title")
    def conversation_link(self, image: Image) -> str:
        if image.message is None:
            return "— (not sent yet)"
        conversation = image.message.conversation
        url = reverse("admin:conversations_conversation_change", args=[conversation.pk])
        return format_html('<a href="{}">{}</a>', url, conversation)

    @admin.display(description="Size", ordering="byte_size")
    def size(self, image: Image) -> str:
        return filesizeformat(image.byte_size)

    @admin.display(description="Pixels")
    def dimensions(self, image: Image) -> str:
        return f"{image.width}×{image.height}"
