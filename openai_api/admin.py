"""API keys in the admin: staff see every user's keys and revoke any."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from conversations.models import ApiKey


@admin.action(description="Revoke the selected keys")
def revoke_keys(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Every user's keys; staff revoke any. A key itself is never shown: only its hash is kept."""

    list_display = ["name", "prefix", "owner", "created_at", "last_used_at", "calls", "tokens", "revoked_at"]
    list_select_related = ["owner"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "owner"]
    search_fields = ["name", "prefix", "owner__username"]
    fields = ["name", "owner", "prefix", "created_at", "last_used_at", "calls", "tokens", "revoked_at"]
    readonly_fields = ["owner", "prefix", "created_at", "last_used_at", "calls", "tokens"]
    actions = [revoke_keys]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by their owners, so the key is shown to them alone
