from django.contrib import admin

from conversations.models import Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "role", "model", "status", "content", "eval_count"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "owner", "model", "created_at", "updated_at"]
    list_select_related = ["owner"]
    list_filter = ["model"]
    search_fields = ["title", "owner__username"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "conversation", "role", "status", "model", "created_at"]
    list_select_related = ["conversation"]
    list_filter = ["role", "status"]
    search_fields = ["content"]
    raw_id_fields = ["conversation"]
    readonly_fields = ["id", "created_at", "saved_at"]
