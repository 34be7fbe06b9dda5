"""The admin's pages for tools: tool servers (added by staff, headers never shown again in full, tool
lists refreshed) and the calls replies made."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from conversations.models import ToolCall, ToolServer
from conversations.tools import sealed, servers

HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
MAX_HEADERS = 20


def masked(value: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    return "•" * 8 if len(value) < 12 else f"{value[:3]}…{value[-2:]}"


class ToolServerForm(forms.ModelForm):
    new_headers = forms.CharField(
        label="Headers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One “Name: value” a line, e.g. “Authorization: Bearer …”. Leave empty to keep the "
        "headers saved (they are stored encrypted and never shown again in full); type new ones to "
        "replace them all.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove all headers")
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="http",
        help_text="The server's Streamable HTTP endpoint, e.g. http://127.0.0.1:9000/mcp. "
        "Only this URL is ever called for the server's tools.",
    )
    ask_first = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every call to these tools waits until the user allows it.",
    )

    class Meta:
        model = ToolServer
        fields = ["name", "url", "enabled", "users", "groups"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        listed = [tool["name"] for tool in (self.instance.tools or []) if isinstance(tool, dict)]
        names = sorted(set(listed) | set(self.instance.ask_first or []))
        self.fields["ask_first"].choices = [(name, name) for name in names]
        self.fields["ask_first"].initial = list(self.instance.ask_first or [])
        if not names:
            self.fields["ask_first"].help_text = "The server's tools show here once they are listed."

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http:// or https:// URL.")
        return url

    def clean_new_headers(self) -> dict[str, str] | None:
        text = self.cleaned_data["new_headers"].strip()
        if not text:
            return None
        headers: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if not colon or not HEADER_NAME.match(name):
                raise forms.ValidationError(f"“{name[:40]}” is not a header name; write “Name: value”.")
            if len(value) > 4000 or any(char in value for char in "\r\n\x00"):
                raise forms.ValidationError(f"The value of {name} is not a valid header value.")
            headers[name] = value
        if len(headers) > MAX_HEADERS:
            raise forms.ValidationError(f"At most {MAX_HEADERS} headers.")
        return headers

    def save(self, commit: bool = True) -> ToolServer:
        server = super().save(commit=False)
        if self.cleaned_data.get("clear_headers"):
            server.headers = {}
        elif self.cleaned_data.get("new_headers") is not None:
            server.headers = self.cleaned_data["new_headers"]
        server.ask_first = list(self.cleaned_data.get("ask_first") or [])
        if commit:
            server.save()
            self.save_m2m()
        return server


@admin.register(ToolServer)
class ToolServerAdmin(admin.ModelAdmin):
    form = ToolServerForm
    list_display = ["name", "url", "enabled", "state", "tool_count", "refreshed_at"]
    list_filter = ["enabled", "state"]
    search_fields = ["name", "url"]
    filter_horizontal = ["users", "groups"]
    readonly_fields = ["saved_headers", "state", "last_error", "refreshed_at", "tool_list"]
    fieldsets = [
        (None, {"fields": ["name", "url", "enabled"]}),
        ("Headers", {"fields": ["saved_headers", "new_headers", "clear_headers"]}),
        ("Who may use it", {"fields": ["users", "groups"]}),
        ("Tools", {"fields": ["state", "last_error", "refreshed_at", "tool_list", "ask_first"]}),
    ]
    actions = ["refresh_tools"]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # A new or changed server is listed at once, once it is saved (not while the
        # admin's transaction holds its row).
        server = form.instance
        transaction.on_commit(lambda: self._refresh(request, [server]))

    @admin.action(description="Refresh the list of tools (and check the server is up)")
    def refresh_tools(self, request: HttpRequest, queryset: QuerySet[ToolServer]) -> None:
        self._refresh(request, list(queryset))

    def _refresh(self, request: HttpRequest, chosen: list[ToolServer]) -> None:
        for server in chosen:
            error = servers.refresh_now(server)
            if error:
                self.message_user(request, f"{server.name} is down: {error}", messages.WARNING)
            else:
                self.message_user(request, f"{server.name}: tools listed.", messages.SUCCESS)

    @admin.display(description="Tools")
    def tool_count(self, server: ToolServer) -> int:
        return len(server.tools or [])

    @admin.display(description="Headers saved")
    def saved_headers(self, server: ToolServer) -> str:
        try:
            headers = server.headers
        except sealed.Unreadable as exc:
            return str(exc)
        if not headers:
            return "—"
        return format_html_join(
            "", "<div><code>{}: {}</code></div>", ((name, masked(v)) for name, v in headers.items())
        )

    @admin.display(description="Tools listed")
    def tool_list(self, server: ToolServer) -> str:
        tools = [tool for tool in server.tools or [] if isinstance(tool, dict)]
        if not tools:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code> {}</li>",
                ((tool.get("name", ""), tool.get("description", "")) for tool in tools),
            ),
        )


def calls_of_reply(message_id: Any) -> str:
    """A reply's calls as a read-only list for its admin page (a table, not a formset: nothing to edit)."""
    calls = ToolCall.objects.filter(message_id=message_id).order_by("round", "position")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
        (
            (
                call.round + 1,
                call.name,
                call.source,
                call.status,
                call.arguments,
                (call.result or call.error)[:500],
            )
            for call in calls
        ),
    )
    if not rows:
        return "—"
    return format_html(
        "<table><tr><th>Round</th><th>Tool</th><th>Source</th><th>Status</th><th>Arguments</th>"
        "<th>Result</th></tr>{}</table>",
        rows,
    )


@admin.register(ToolCall)
class ToolCallAdmin(admin.ModelAdmin):
    """What replies called: who, which tool, how long, how it went. Written by the chat, only read here."""

    list_display = ["created_at", "user", "name", "source", "status", "duration_ms", "reply_link"]
    list_select_related = ["user"]
    list_filter = ["status", "source"]
    search_fields = ["name", "user__username"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "created_at",
        "user",
        "reply_link",
        "round",
        "position",
        "call_id",
        "name",
        "source",
        "server",
        "arguments",
        "status",
        "result",
        "error",
        "duration_ms",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ToolCall | None = None) -> bool:
        return False

    @admin.display(description="Reply")
    def reply_link(self, call: ToolCall) -> str:
        url = reverse("admin:conversations_message_change", args=[call.message_id])
        return format_html('<a href="{}">{}</a>', url, "reply")
