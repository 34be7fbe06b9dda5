"""Users' saved schemas and preferences."""

from __future__ import annotations

from django.contrib import admin

from conversations.admin.forms import PreferencesForm, SavedSchemaForm
from conversations.models import Preferences, SavedSchema


@admin.register(SavedSchema)
class SavedSchemaAdmin(admin.ModelAdmin):
    form = SavedSchemaForm
    list_display = ["name", "owner", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["name", "owner__username"]


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    form = PreferencesForm
    list_display = ["user", "model"]
    list_select_related = ["user"]
