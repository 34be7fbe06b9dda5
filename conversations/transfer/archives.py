"""The zip export opened for import: only the files its JSON names, each read within the caps."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from typing import IO, Any

from django.conf import settings

JSON_NAME = "conversation.json"
# The names export_zip writes; anything else (../x, /etc/passwd, images/a/../../b) is never read.
IMAGE_NAME = re.compile(r"images/[0-9a-f]{64}\.(?:png|jpg|webp|gif)")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# The end of the archive, which says how large its list of files is (APPNOTE 4.3.16).
END_RECORD = struct.Struct("<4s4H2LH")
END_SIGNATURE = b"PK\x05\x06"
# Each listed file becomes an object in memory; export_zip's entries take about 120 bytes.
DIRECTORY_BYTES_PER_FILE = 160
# What a damaged, encrypted or unusual archive raises while a member is read.
READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    OSError,
    ValueError,
)
# zipfile's own words ("Bad CRC-32 for file…", "Bad magic number…") say nothing to a person.
DAMAGED = "The zip file is damaged or cannot be read. Export the conversation again and import the new file."


class ArchiveRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_zip(upload: IO[bytes]) -> bool:
    upload.seek(0)
    head = upload.read(4)
    upload.seek(0)
    return head in ZIP_MAGIC


class _Member:
    """A file inside the archive, read for the parser; the archive's errors become refusals."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def read(self, size: int = -1) -> bytes:
        try:
            return self._handle.read(size)
        except READ_ERRORS:
            raise ArchiveRejected(DAMAGED) from None

    def close(self) -> None:
        self._handle.close()


class Archive:
    """conversation.json and the images/ files it refers to, nothing else."""

    def __init__(self, upload: IO[bytes]) -> None:
        self._check_directory(upload)
        try:
            self._zip = zipfile.ZipFile(upload)
        except READ_ERRORS:
            raise ArchiveRejected(DAMAGED) from None
        # A zip unpacks to at most MAX_IMPORT_BYTES in all, counted as declared before each read.
        self._budget = settings.MAX_IMPORT_BYTES
        self._json: _Member | None = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._json is not None:
            self._json.close()
        self._zip.close()

    @staticmethod
    def _check_directory(upload: IO[bytes]) -> None:
        """Refuse an archive that lists more files than an export can have, before listing them."""
        upload.seek(0, 2)
        size = upload.tell()
        tail_size = min(size, END_RECORD.size + 0xFFFF)  # the record, then a comment of up to 64 KB
        upload.seek(size - tail_size)
        tail = upload.read(tail_size)
        upload.seek(0)
        at = tail.rfind(END_SIGNATURE)
        if at < 0 or len(tail) - at < END_RECORD.size:
            raise ArchiveRejected("The zip file is damaged or cannot be read (its end is missing).")
        *_, entries, directory_size, _offset, _comment = END_RECORD.unpack_from(tail, at)
        most = 1 + settings.MAX_IMPORT_MESSAGES * settings.MAX_IMAGES_PER_MESSAGE
        if entries > most or directory_size > most * DIRECTORY_BYTES_PER_FILE:
            raise ArchiveRejected(f"The zip file holds more files than an export can ({most:,} at most).")

    def _take(self, name: str, *, most: int, what: str) -> zipfile.ZipInfo:
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            raise ArchiveRejected(f"{what}: the zip file has no {name}.") from None
        if info.file_size > most:
            raise ArchiveRejected(
                f"{what}: {name} unpacks to {info.file_size:,} bytes; the limit is {most:,}."
            )
        if info.file_size > self._budget:
            raise ArchiveRejected(
                f"{what}: the zip file unpacks to more than {settings.MAX_IMPORT_BYTES:,} bytes in all."
            )
        self._budget -= info.file_size
        return info

    def open_json(self) -> _Member:
        info = self._take(JSON_NAME, most=settings.MAX_IMPORT_BYTES, what="The export")
        try:
            self._json = _Member(self._zip.open(info))
        except READ_ERRORS:
            raise ArchiveRejected(DAMAGED) from None
        return self._json

    def read_image(self, name: Any, what: str) -> bytes:
        """The bytes of images/<sha256>.<ext>, as the export names it; read no further than allowed."""
        if not isinstance(name, str) or not IMAGE_NAME.fullmatch(name):
            raise ArchiveRejected(f"{what}: the file must be named images/<sha256>.<png|jpg|webp|gif>.")
        info = self._take(name, most=settings.MAX_IMAGE_BYTES, what=what)
        try:
            with self._zip.open(info) as handle:
                data = handle.read(settings.MAX_IMAGE_BYTES + 1)
        except READ_ERRORS:
            raise ArchiveRejected(f"{what}: {name} in the zip file is damaged or cannot be read.") from None
        return data
