"""Conversations and their messages, stored one row per message."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from conversations.ollama.client import STATS_COUNTS


class ConversationQuerySet(models.QuerySet):
    def owned_by(self, user_id: int) -> ConversationQuerySet:
        """The conversations a user can reach: theirs, and not an import still being written."""
        return self.filter(owner_id=user_id, importing_since__isnull=True)


class Conversation(models.Model):
    class TitleSource(models.TextChoices):
        FIRST_WORDS = "first_words"
        GENERATED = "generated"
        USER = "user"  # a rename by the user is never overwritten

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    title_source = models.CharField(
        max_length=16, choices=TitleSource.choices, default=TitleSource.FIRST_WORDS
    )
    pinned = models.BooleanField(default=False)
    model = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    # Ollama options that were set; an absent key means "the model's default".
    options = models.JSONField(default=dict, blank=True)
    keep_alive = models.CharField(max_length=32, blank=True)
    # The tools the model may call in this conversation, by key (conversations/tools/registry.py).
    tools = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set while an import writes the conversation (conversations/imports.py): until then
    # no page, socket or list shows it. An import that never finished is removed later.
    importing_since = models.DateTimeField(null=True, blank=True)
    # Started through the OpenAI-compatible API (openai_api/) rather than the page.
    from_api = models.BooleanField(default=False)
    # For /v1/chat/completions, which resends the whole history each turn: a digest of
    # the messages of the last call, so the next call that extends them continues here.
    api_history = models.CharField(max_length=64, blank=True, default="")
    # The metadata a script gave the conversation through /v1/conversations.
    api_metadata = models.JSONField(default=dict, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["owner", "-pinned", "-updated_at"], name="conversation_sidebar"),
            models.Index(
                fields=["importing_since"],
                name="conversation_importing",
                condition=models.Q(importing_since__isnull=False),
            ),
            models.Index(
                fields=["owner", "api_history"],
                name="conversation_api_history",
                condition=~models.Q(api_history=""),
            ),
        ]

    def __str__(self) -> str:
        return self.title or "New chat"

    def get_absolute_url(self) -> str:
        return reverse("conversation", args=[self.pk])


class Message(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"
        TOOL = "tool"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        STOPPED = "stopped"
        ERROR = "error"
        INTERRUPTED = "interrupted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    # Versions of one exchange (a question and its reply): regenerating the last reply
    # or editing any question adds a version and makes it the active one; the others
    # are kept so the user can flip back. Only active messages are shown and replayed.
    exchange = models.UUIDField(default=uuid.uuid4)
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    reply_to = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    # Branches: the conversation is a tree. `parent` is the message this one follows
    # (a reply's question, a question's earlier reply; None for a first question), so
    # an edit of any question starts a branch beside it. `chosen` says which of the
    # messages sharing a parent was shown last: showing a version again follows the
    # chosen ones down, back to what the user left. `active` marks the path shown now.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    chosen = models.BooleanField(default=True)
    model = models.CharField(max_length=200, blank=True)
    content = models.TextField(blank=True)
    thinking = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    error = models.TextField(blank=True)
    # Ollama's statistics from the final chunk; durations are in nanoseconds.
    done_reason = models.CharField(max_length=32, blank=True)
    prompt_eval_count = models.PositiveIntegerField(null=True, blank=True)
    eval_count = models.PositiveIntegerField(null=True, blank=True)
    total_duration = models.PositiveBigIntegerField(null=True, blank=True)
    load_duration = models.PositiveBigIntegerField(null=True, blank=True)
    prompt_eval_duration = models.PositiveBigIntegerField(null=True, blank=True)
    eval_duration = models.PositiveBigIntegerField(null=True, blank=True)
    # Structured output: the `format` the reply was asked for ("json" or a JSON
    # Schema) and, once complete, {"valid", "data", "errors"}.
    format = models.JSONField(null=True, blank=True)
    structured = models.JSONField(null=True, blank=True)
    # What the reply says about its tools apart from the calls (a server that is down, a
    # model that cannot use tools).
    tool_notes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Last time a streaming reply was saved; a reply whose writer died stops moving.
    saved_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "active", "created_at"], name="message_history"),
            models.Index(fields=["exchange"], name="message_exchange"),
            models.Index(
                fields=["status"],
                name="message_streaming",
                condition=models.Q(status="streaming"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"

    def ollama_stats(self) -> dict[str, Any]:
        """Ollama's figures for this reply, under Ollama's names (a figure not known is None)."""
        return {"done_reason": self.done_reason, **{name: getattr(self, name) for name in STATS_COUNTS}}

    @property
    def tokens_per_second(self) -> float | None:
        if not self.eval_count or not self.eval_duration:
            return None
        return self.eval_count / self.eval_duration * 1e9

    @property
    def is_final(self) -> bool:
        return self.status != self.Status.STREAMING


def image_path(image: Image, filename: str) -> str:
    return f"images/{image.owner_id}/{image.pk}/{filename}"


class Image(models.Model):
    """An uploaded image, attached to the user message it was sent with."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="images", null=True, blank=True
    )
    file = models.FileField(upload_to=image_path)
    # What Ollama gets when the original is too large, in a format it cannot read, or
    # turned by its EXIF orientation (Ollama ignores EXIF, so it gets an upright copy).
    send_file = models.FileField(upload_to=image_path, blank=True)
    thumbnail = models.FileField(upload_to=image_path)
    content_type = models.CharField(max_length=32)
    byte_size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["owner", "message"], name="image_owner_message")]

    def __str__(self) -> str:
        return f"{self.content_type} {self.width}×{self.height}"

    def get_absolute_url(self) -> str:
        return reverse("image", args=[self.pk])

    def get_thumbnail_url(self) -> str:
        return reverse("image_thumbnail", args=[self.pk])


class SavedSchema(models.Model):
    """A JSON Schema a user keeps under a name, to reuse in any conversation."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schemas")
    name = models.CharField(max_length=100)
    schema = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="schema_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class Preferences(models.Model):
    """A user's defaults for new conversations."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    model = models.CharField(max_length=200, blank=True)
    system_prompt = models.TextField(blank=True)
    options = models.JSONField(default=dict, blank=True)
    keep_alive = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"Preferences of {self.user}"


class SiteSettings(models.Model):
    """What staff set for the whole site on the Accounts page: one row, made when first saved."""

    sign_up_open = models.BooleanField(
        default=False, help_text="People may create an account themselves from the sign-in page."
    )

    class Meta:
        verbose_name_plural = "site settings"

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def current(cls) -> SiteSettings:
        """The settings as saved, or the defaults when nothing was saved yet (no row is written)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ToolServer(models.Model):
    """An MCP server reached over Streamable HTTP, added by staff; only these URLs are ever called."""

    class State(models.TextChoices):
        UNKNOWN = "unknown"
        UP = "up"
        DOWN = "down"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(
        max_length=500, help_text="The server's Streamable HTTP endpoint, e.g. http://127.0.0.1:9000/mcp"
    )
    # Sent with every request (an API key, say): sealed at rest (conversations/tools/sealed.py),
    # and never shown again in full by the admin. Read and set them as `headers`.
    sealed_headers = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="tool_servers")
    groups = models.ManyToManyField("auth.Group", blank=True, related_name="tool_servers")
    # Names of the server's tools whose every call waits for the user's approval.
    ask_first = models.JSONField(default=list, blank=True)
    # The server's tools as last listed: [{"name", "description", "parameters"}].
    tools = models.JSONField(default=list, blank=True, editable=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNKNOWN, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def headers(self) -> dict[str, str]:
        """The headers, unsealed; sealed.Unreadable if SECRET_KEY changed since they were saved."""
        from conversations.tools.sealed import unseal

        return unseal(self.sealed_headers)

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        from conversations.tools.sealed import seal

        self.sealed_headers = seal(value or {})


class ToolCall(models.Model):
    """One call a reply made to a tool, in the order the model asked for them."""

    class Status(models.TextChoices):
        ASKED = "asked"  # waiting for the user's approval
        RUNNING = "running"
        OK = "ok"
        ERROR = "error"
        DENIED = "denied"
        CANCELLED = "cancelled"

    # The source of a call the API's client runs itself: it is "running" until the client's result comes.
    CLIENT = "client"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="tool_calls")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tool_calls")
    round = models.PositiveSmallIntegerField()
    position = models.PositiveSmallIntegerField()
    # How much of the reply's text came before this round's calls: the replay splits it there.
    content_offset = models.PositiveIntegerField(default=0)
    call_id = models.CharField(max_length=64, blank=True)  # Ollama's id for the call, when it gives one
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=100)  # "built-in" or the tool server's name
    server = models.ForeignKey(
        ToolServer, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    arguments = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["message", "round", "position"]
        constraints = [
            models.UniqueConstraint(fields=["message", "round", "position"], name="tool_call_place")
        ]
        indexes = [models.Index(fields=["-created_at"], name="tool_call_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ApiKey(models.Model):
    """A key a user's scripts call the API with; only its hash is kept."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The key's first characters, to tell keys apart in lists; not enough to use it.
    prefix = models.CharField(max_length=16)
    # sha256 of the whole key: keys are random (256 bits), so a fast hash is enough.
    hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveBigIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The per-minute rate limit: the minute (since the epoch) being counted, and its calls.
    window = models.BigIntegerField(default=0)
    window_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None
