"""What a deployment gets: `check --deploy` clean with the documented settings, and data only its user can read."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chatsite.private_files import PRIVATE_DIR, PRIVATE_FILE, keep_private
from tests.helpers import png, signed_in
from tests.live_server import REPO

DEPLOY_DOC = REPO / "docs" / "deploy.md"


def documented_production_env() -> dict[str, str]:
    """The `export NAME=value` lines of "Settings to change for production" in docs/deploy.md."""
    section = DEPLOY_DOC.read_text().split("## Settings to change for production", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    found = dict(re.findall(r"^export (\w+)=(\S+)", block, flags=re.MULTILINE))
    assert found, "docs/deploy.md lists no production settings"
    return found


def run_manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # The usual umask, which leaves new files readable by everyone unless the app says otherwise.
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    """The documented settings, with what names other machines (a database, Redis, /srv) made local."""
    documented = documented_production_env()
    env = {
        key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "DEBUG")
    }
    env.update(documented)
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_SETTINGS_MODULE="chatsite.settings",
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return env


def test_the_documented_production_settings_pass_the_deployment_checks(tmp_path):
    documented = documented_production_env()
    assert documented["SECURE_COOKIES"] == "true"
    assert documented["SECURE_SSL_REDIRECT"] == "true"
    assert int(documented["SECURE_HSTS_SECONDS"]) > 0
    assert "DEBUG" not in documented

    result = run_manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_without_the_tls_settings_the_deployment_checks_warn(tmp_path):
    env = production_env(tmp_path)
    for name in ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS"):
        env.pop(name, None)

    result = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "security.W004" in output and "security.W008" in output


def test_tls_settings_come_from_the_environment(tmp_path):
    env = production_env(tmp_path)
    show = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE)"
    )

    shown = run_manage(env, "shell", "--verbosity", "0", "-c", show)
    env.update(SECURE_HSTS_SECONDS="0", TRUST_X_FORWARDED_PROTO="false", SECURE_SSL_REDIRECT="no")
    plain = run_manage(env, "shell", "--verbosity", "0", "-c", show)
    env["SECURE_HSTS_SECONDS"] = "a year"
    bad = run_manage(env, "shell", "--verbosity", "0", "-c", show)

    assert shown.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
    ]
    assert plain.stdout.split() == ["False", "0", "True", "True", "None", "True"]
    assert bad.returncode != 0
    assert "SECURE_HSTS_SECONDS must be a whole number, got 'a year'" in bad.stderr


def test_sign_in_throttling_settings_come_from_the_environment(tmp_path):
    env = production_env(tmp_path)
    show = (
        "from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), s.TRUSTED_PROXY_COUNT)"
    )
    env.pop("TRUSTED_PROXY_COUNT")

    defaults = run_manage(env, "shell", "--verbosity", "0", "-c", show)
    env.update(LOGIN_FAILURE_LIMIT="10", LOGIN_COOLOFF_MINUTES="60", TRUSTED_PROXY_COUNT="2")
    chosen = run_manage(env, "shell", "--verbosity", "0", "-c", show)
    env["LOGIN_FAILURE_LIMIT"] = "0"
    none = run_manage(env, "shell", "--verbosity", "0", "-c", show)
    env.update(LOGIN_FAILURE_LIMIT="5", LOGIN_COOLOFF_MINUTES="soon")
    bad = run_manage(env, "shell", "--verbosity", "0", "-c", show)

    assert defaults.stdout.split() == ["5", "900", "0"], defaults.stderr
    assert chosen.stdout.split() == ["10", "3600", "2"], chosen.stderr
    assert "LOGIN_FAILURE_LIMIT must be at least 1, got 0" in none.stderr
    assert "LOGIN_COOLOFF_MINUTES must be a whole number, got 'soon'" in bad.stderr


# Private files ------------------------------------------------------------------

# Run in the app's process: opens the database as the app does and holds the
# connection, so SQLite's -wal and -shm files exist, then prints every mode.
SHOW_MODES = """
import os, stat
from django.conf import settings
from django.db import connection
connection.ensure_connection()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM django_migrations")
for name in ("", "db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm", "secret_key"):
    path = settings.DATA_DIR / name
    print(name or "DATA_DIR", oct(stat.S_IMODE(os.stat(path).st_mode)))
"""

PRIVATE = {
    "DATA_DIR": "0o700",
    "db.sqlite3": "0o600",
    "db.sqlite3-wal": "0o600",
    "db.sqlite3-shm": "0o600",
    "secret_key": "0o600",
}


def sqlite_env(data_dir: Path, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    }
    env.update(
        DATA_DIR=str(data_dir),
        STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_SETTINGS_MODULE="chatsite.settings",
    )
    return env


def modes(env: dict[str, str]) -> dict[str, str]:
    result = run_manage(env, "shell", "--verbosity", "0", "-c", SHOW_MODES)
    assert result.returncode == 0, result.stderr
    return dict(line.split() for line in result.stdout.splitlines())


def test_a_new_data_directory_and_its_database_are_private(tmp_path):
    env = sqlite_env(tmp_path / "new" / "data", tmp_path)

    migrated = run_manage(env, "migrate", "--noinput")

    assert migrated.returncode == 0, migrated.stderr
    assert modes(env) == PRIVATE


def test_an_existing_data_directory_open_to_others_is_made_private_at_start(tmp_path):
    data_dir = tmp_path / "data"
    env = sqlite_env(data_dir, tmp_path)
    assert run_manage(env, "migrate", "--noinput").returncode == 0
    # As an older version left them: readable by everyone, the WAL files included.
    (data_dir / "db.sqlite3-wal").touch()
    (data_dir / "db.sqlite3-shm").touch()
    for path in data_dir.iterdir():
        path.chmod(0o644)
    data_dir.chmod(0o755)

    checked = run_manage(env, "check")

    assert checked.returncode == 0, checked.stderr
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in data_dir.iterdir()} == {
        name: mode for name, mode in PRIVATE.items() if name != "DATA_DIR"
    }
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    assert modes(env) == PRIVATE


@pytest.mark.django_db
def test_uploaded_images_are_stored_in_private_directories(alice, settings):
    previous = os.umask(0o022)  # the usual umask: it alone would leave directories open to everyone
    try:
        response = signed_in(alice).post("/images/", {"file": SimpleUploadedFile("photo.png", png())})
    finally:
        os.umask(previous)

    assert response.status_code == 201, response.content
    media = Path(settings.MEDIA_ROOT)
    stored = [media, *media.rglob("*")]
    assert any(path.is_file() for path in stored)
    assert {str(path.relative_to(media)): oct(path.stat().st_mode & 0o777) for path in stored} == {
        str(path.relative_to(media)): "0o700" if path.is_dir() else "0o600" for path in stored
    }


@pytest.mark.parametrize(
    ("before", "mode", "after"),
    [
        (0o644, PRIVATE_FILE, 0o600),
        (0o400, PRIVATE_FILE, 0o400),
        (0o600, PRIVATE_FILE, 0o600),
        (0o775, PRIVATE_DIR, 0o700),
    ],
)
def test_making_a_path_private_takes_permissions_away_and_never_adds_one(tmp_path, before, mode, after):
    path = tmp_path / "thing"
    path.mkdir() if mode == PRIVATE_DIR else path.touch()
    path.chmod(before)

    keep_private(path, mode=mode)

    assert path.stat().st_mode & 0o777 == after


def test_a_worker_loads_no_tls_library_since_tls_ends_at_the_proxy():
    # What `python -m chatsite.serve` imports before it serves: daphne, Twisted's TCP
    # transport and the websocket protocol, which would each take pyOpenSSL if they could.
    probe = (
        "import sys, chatsite.serve, twisted.internet.tcp, daphne.ws_protocol; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('OpenSSL', 'service_identity') "
        "and sys.modules[m] is not None))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
