"""What a production deployment gets: `check --deploy` clean with the documented settings."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

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
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
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
