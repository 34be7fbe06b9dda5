"""The admin's forms: settings and schemas checked as strictly as the app's own."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput

from conversations import json_input
from conversations.models import Conversation, Preferences, SavedSchema
from conversations.options import InvalidSettings, clean_settings
from conversations.structured.formats import SchemaRejected, check_format

SETTINGS_FIELDS = ("model", "system_prompt", "options", "keep_alive")


class StorableJSONField(forms.JSONField):
    """JSON typed into the admin, parsed as strictly as JSON from anywhere else:
    NaN, NUL, lone surrogates and deep nesting are form errors, not server errors."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            return json_input.loads(value, what="This JSON")
        except json_input.Unacceptable as exc:
            raise forms.ValidationError(exc.message, code="invalid") from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Shown again as typed when refused (Django would parse it with json.loads).
        if self.disabled or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return json_input.loads(data)
        except json_input.Unacceptable:
            return InvalidJSONInput(data)


class SettingsForm(forms.ModelForm):
    """Settings (of a conversation, or a user's defaults) pass the same checks as in the chat's settings panel."""

    options = StorableJSONField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if any(name in self.errors for name in SETTINGS_FIELDS):
            return cleaned
        try:
            settings = clean_settings({name: cleaned.get(name) for name in SETTINGS_FIELDS})
        except InvalidSettings as exc:
            for name, message in exc.errors.items():
                if name in SETTINGS_FIELDS:
                    self.add_error(name, message)
                elif name == "__all__":
                    self.add_error(None, message)
                else:  # an option's name
                    self.add_error("options", f"{name}: {message}")
            return cleaned
        cleaned.update(
            model=settings.model,
            system_prompt=settings.system_prompt,
            options=settings.options,
            keep_alive=settings.keep_alive,
        )
        return cleaned


class ConversationForm(SettingsForm):
    class Meta:
        model = Conversation
        fields = ["title", "title_source", "pinned", *SETTINGS_FIELDS]


class PreferencesForm(SettingsForm):
    class Meta:
        model = Preferences
        fields = ["user", *SETTINGS_FIELDS]


class SavedSchemaForm(forms.ModelForm):
    """A schema edited here passes the same checks as one saved from the chat."""

    schema = StorableJSONField()

    class Meta:
        model = SavedSchema
        fields = ["owner", "name", "schema"]

    def clean_schema(self) -> Any:
        schema = self.cleaned_data["schema"]
        if not isinstance(schema, dict):
            raise forms.ValidationError("The schema must be a JSON object.")
        try:
            return check_format(schema)
        except SchemaRejected as exc:
            raise forms.ValidationError(exc.message) from None
