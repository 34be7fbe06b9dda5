"""What the app keeps on disk (DATA_DIR, the SQLite database and its WAL) is readable by its own user only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

# SQLite creates these beside the database, each with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> Path:
    """Create the directory for the app's user only, or take away what others may do in an existing one."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    keep_private(path, mode=PRIVATE_DIR)
    return path


def make_sqlite_private(name: str) -> None:
    """Create the database file private before SQLite first opens it (SQLite would use the umask),
    so that its -wal and -shm files are private too; tighten the files of an existing database."""
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    database = Path(name)
    if not database.parent.is_dir():
        return  # SQLite reports the missing directory when Django connects, as it always did
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:  # an existing database, or another worker starting at the same moment
        keep_private(database, mode=PRIVATE_FILE)
    for suffix in SQLITE_COMPANIONS:
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            keep_private(companion, mode=PRIVATE_FILE)


def keep_private(path: Path, *, mode: int) -> None:
    """Clear every permission bit outside `mode` (group and others); never add one."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & ~mode == 0:
        return
    try:
        path.chmod(current & mode)
    except PermissionError:
        raise ImproperlyConfigured(
            f"{path} is open to other users (mode {current:o}) and the app may not change that: "
            f"make it {mode:o} and owned by the user the app runs as."
        ) from None
