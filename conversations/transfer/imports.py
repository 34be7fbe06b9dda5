"""Importing an exported conversation (JSON, or the zip with its images), staged, then published.

The file is read a message at a time (json_stream.stream), never whole. The
conversation is created hidden (Conversation.importing_since), its messages are
written a batch per transaction, so SQLite's write lock is free between batches
for everybody else, and one last short transaction makes it visible. If anything
is refused or fails, everything staged, rows and image files, is removed; a
staged conversation left by a worker that died is removed an hour later.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations import json_input, json_stream
from conversations.images import ImageRejected, delete_files, write_image
from conversations.models import Conversation, Image, Message, ToolCall
from conversations.options import InvalidSettings, clean_settings
from conversations.transfer import archives
from conversations.transfer.checks import (
    CheckedMessage,
    ImportRejected,
    check_message,
    read_when,
    require,
    shown,
)
from conversations.transfer.exports import FORMAT, VERSION

__all__ = ["ImportRejected", "import_upload", "remove_abandoned_imports"]

MESSAGES_KEY = ("conversation", "messages")
HEADER_KEYS = ("format", "version")
CONVERSATION_KEYS = ("title", "model", "system_prompt", "options", "keep_alive", "created_at", "updated_at")
# A batch is written in one transaction: a few hundred rows, and not much text.
BATCH_MESSAGES = 200
BATCH_CHARS = 2_000_000
ABANDONED_AFTER = timedelta(hours=1)
TOO_LONG = "The import took too long and was stopped; try again."
# importing_since of a staged conversation being removed: its import can no longer publish it.
DISCARDING = datetime(1970, 1, 1, tzinfo=UTC)


def describe(path: json_stream.Path) -> str:
    """Who a refusal is about, from where the parser is in the file."""
    if len(path) >= 3 and path[:2] == MESSAGES_KEY and isinstance(path[2], int):
        return f"Message {path[2] + 1}"
    if len(path) == 2 and path[0] == "conversation":
        return f"The conversation's {path[1]}"
    return "The file"


class _Staging:
    """A hidden conversation filled a batch at a time."""

    def __init__(self, owner_id: int) -> None:
        self.owner_id = owner_id
        self.conversation_id: uuid.UUID | None = None
        self.stamp = timezone.now()  # its importing_since: only this import may publish it
        self.messages: list[Message] = []
        self.images: list[Image] = []  # files written, rows not yet
        self.calls: list[ToolCall] = []
        self.chars = 0
        self.ids: dict[str, uuid.UUID] = {}  # export id → the copy's id, for reply_to
        self.exchanges: dict[uuid.UUID, uuid.UUID] = {}
        self.last_shown: uuid.UUID | None = None  # for exports that do not say what follows what
        self.first: datetime | None = None
        self.last: datetime | None = None

    def add(self, checked: CheckedMessage) -> None:
        if self.conversation_id is None:
            self.conversation_id = Conversation.objects.create(
                owner_id=self.owner_id, importing_since=self.stamp
            ).pk
        fields = checked.fields
        if checked.exchange is not None:
            fields["exchange"] = self.exchanges.setdefault(checked.exchange, uuid.uuid4())
        reply_to_id = self.ids.get(checked.reply_to or "")
        if checked.linked:
            parent_id = self.ids.get(checked.parent or "")
        else:  # one branch, as the conversations from before branches were made
            parent_id = reply_to_id or self.last_shown
        message = Message(
            conversation_id=self.conversation_id, reply_to_id=reply_to_id, parent_id=parent_id, **fields
        )
        self.ids[checked.export_id] = message.pk
        if message.active:
            self.last_shown = message.pk
        self.messages.append(message)
        self.chars += len(message.content) + len(message.thinking)
        when = fields["created_at"]
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)
        self.calls += [
            ToolCall(message_id=message.pk, user_id=self.owner_id, **call) for call in checked.tool_calls
        ]
        for name, data in checked.images:
            try:
                image = write_image(owner_id=self.owner_id, data=data, name=name)
            except ImageRejected as exc:
                raise ImportRejected(f"{checked.where}: {exc.message}") from None
            image.message_id = message.pk
            self.images.append(image)
        if len(self.messages) >= BATCH_MESSAGES or self.chars >= BATCH_CHARS:
            self.write()

    def write(self) -> None:
        if not self.messages:
            return
        with transaction.atomic():
            # Locked, so the sweeper cannot take it for abandoned while this batch is written.
            still_staged = (
                Conversation.objects.select_for_update()
                .filter(pk=self.conversation_id, importing_since=self.stamp)
                .exists()
            )
            require(still_staged, TOO_LONG)
            Message.objects.bulk_create(self.messages)
            Image.objects.bulk_create(self.images)
            ToolCall.objects.bulk_create(self.calls)
        self.messages, self.images, self.calls, self.chars = [], [], [], 0

    def publish(self, **fields: Any) -> uuid.UUID:
        self.write()
        if self.conversation_id is None:  # an export without messages
            self.conversation_id = Conversation.objects.create(
                owner_id=self.owner_id, importing_since=self.stamp
            ).pk
        # .update(): updated_at is auto_now, and the export's must be kept.
        published = Conversation.objects.filter(pk=self.conversation_id, importing_since=self.stamp).update(
            importing_since=None, **fields
        )
        require(published == 1, TOO_LONG)
        return self.conversation_id

    def discard(self) -> None:
        for image in self.images:
            delete_files(image)
        self.images, self.messages = [], []
        if self.conversation_id is not None:
            discard_import(conversation_id=self.conversation_id)


def discard_import(*, conversation_id: uuid.UUID) -> None:
    """Remove a staged conversation, its messages and their image files, a batch per transaction."""
    claimed = Conversation.objects.filter(pk=conversation_id, importing_since__isnull=False).update(
        importing_since=DISCARDING
    )
    if not claimed:
        return
    while True:
        batch = list(
            Message.objects.filter(conversation_id=conversation_id).values_list("pk", flat=True)[
                :BATCH_MESSAGES
            ]
        )
        if not batch:
            break
        with transaction.atomic():
            # Image rows go with their messages; a signal removes their files.
            Message.objects.filter(pk__in=batch).delete()
    Conversation.objects.filter(pk=conversation_id, importing_since=DISCARDING).delete()


def remove_abandoned_imports() -> None:
    """Remove what imports that never finished (their worker died) left staged an hour ago or more."""
    cutoff = timezone.now() - ABANDONED_AFTER
    for conversation_id in Conversation.objects.filter(importing_since__lt=cutoff).values_list(
        "pk", flat=True
    ):
        discard_import(conversation_id=conversation_id)


@contextlib.contextmanager
def _opened(upload: IO[bytes]) -> Iterator[tuple[json_stream.Readable, archives.Archive | None]]:
    """The export's JSON as a stream, and the archive its image files are in (a zip), or None."""
    if not archives.is_zip(upload):
        yield upload, None
        return
    with archives.Archive(upload) as archive:
        yield archive.open_json(), archive


def import_upload(*, owner_id: int, upload: IO[bytes]) -> uuid.UUID:
    """Recreate an exported conversation for `owner_id`, all or nothing; the new conversation's id."""
    remove_abandoned_imports()
    staging = _Staging(owner_id)
    try:
        with _opened(upload) as (source, archive):
            return _read_into(staging, source=source, archive=archive)
    except json_input.Unacceptable as exc:
        staging.discard()
        raise ImportRejected(exc.message) from None
    except archives.ArchiveRejected as exc:
        staging.discard()
        raise ImportRejected(exc.message) from None
    except BaseException:
        staging.discard()
        raise


def _read_into(
    staging: _Staging, *, source: json_stream.Readable, archive: archives.Archive | None
) -> uuid.UUID:
    read_file = archive.read_image if archive is not None else None
    header: dict[str, Any] = {}
    conversation: dict[str, Any] = {}
    pieces = json_stream.stream(source, into=MESSAGES_KEY, limit=settings.MAX_IMPORT_BYTES, describe=describe)
    for path, value in pieces:
        if len(path) == 3:  # a message
            number = path[2] + 1
            require(
                number <= settings.MAX_IMPORT_MESSAGES,
                f"The export has more than {settings.MAX_IMPORT_MESSAGES:,} messages, the most an import may hold.",
            )
            staging.add(check_message(value, number=number, read_file=read_file))
        elif path == MESSAGES_KEY:
            raise ImportRejected("The export has no list of messages.")
        elif len(path) == 2:
            if path[1] in CONVERSATION_KEYS:
                conversation[path[1]] = value
        elif path == ():
            raise ImportRejected("This is not a conversation export.")
        elif path == ("conversation",):
            raise ImportRejected("The export has no conversation.")
        elif path[0] in HEADER_KEYS:
            header[path[0]] = value
            _check_header(header, complete=False)
    _check_header(header, complete=True)
    return staging.publish(**_conversation_fields(conversation, staging))


def _check_header(header: dict[str, Any], *, complete: bool) -> None:
    """format and version, refused as soon as they are read, and required by the end."""
    if "format" in header or complete:
        require(header.get("format") == FORMAT, "This is not a conversation export.")
    if "version" in header or complete:
        version = header.get("version")
        require(
            isinstance(version, int) and not isinstance(version, bool) and version == VERSION,
            f"Unsupported export version {shown(version)}.",
        )


def _conversation_fields(source: dict[str, Any], staging: _Staging) -> dict[str, Any]:
    try:
        settings_ = clean_settings(source)
    except InvalidSettings as exc:
        raise ImportRejected(f"The conversation's settings are invalid: {exc}") from None
    title = source.get("title")
    require(title is None or isinstance(title, str), "The conversation's title must be text.")
    now = timezone.now()
    created = (
        read_when(source["created_at"], "The conversation")
        if source.get("created_at") is not None
        else staging.first or now
    )
    updated = (
        read_when(source["updated_at"], "The conversation", "updated_at")
        if source.get("updated_at") is not None
        else staging.last or created
    )
    return {
        "title": (title or "")[:200],
        "title_source": Conversation.TitleSource.USER,
        "model": settings_.model,
        "system_prompt": settings_.system_prompt,
        "options": settings_.options,
        "keep_alive": settings_.keep_alive,
        "created_at": created,
        "updated_at": updated,
    }
