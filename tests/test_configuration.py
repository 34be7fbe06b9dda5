"""Configuration from the environment, and the migrations matching the models."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from chatsite.env import env_bool, env_float, env_int, load_secret_key, parse_ollama_host


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("  '1.2.3.4'  ", "http://1.2.3.4:11434"),
        ("example.com:8080", "http://example.com:8080"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("https://example.com/ollama/", "https://example.com:443/ollama"),
        ("HTTP://Example.com:5000", "http://example.com:5000"),
        (":1234", "http://127.0.0.1:1234"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:9999", "http://127.0.0.1:9999"),
        ("[::]:11434", "http://[::1]:11434"),
        ("[::1]:1337", "http://[::1]:1337"),
        ("http://[fe80::1]", "http://[fe80::1]:80"),
        ("::1", "http://[::1]:11434"),
        ("::", "http://[::1]:11434"),
        ("fe80::1", "http://[fe80::1]:11434"),
        ("https://2001:db8::5/ollama", "https://[2001:db8::5]:443/ollama"),
        ("example.com:99999", "http://example.com:11434"),
    ],
)
def test_ollama_host_is_parsed_like_ollamas_clients(value, expected):
    assert parse_ollama_host(value) == expected


def test_ollama_host_rejects_other_schemes():
    with pytest.raises(ImproperlyConfigured, match="OLLAMA_HOST"):
        parse_ollama_host("ftp://example.com")


def test_bad_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be true or false"):
        env_bool("DEBUG", False)
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "lots")
    with pytest.raises(ImproperlyConfigured, match="MAX_MESSAGE_CHARS must be a whole number"):
        env_int("MAX_MESSAGE_CHARS", 1)
    monkeypatch.setenv("OLLAMA_READ_TIMEOUT", "-1")
    with pytest.raises(ImproperlyConfigured, match="OLLAMA_READ_TIMEOUT must be at least"):
        env_float("OLLAMA_READ_TIMEOUT", 1.0, minimum=0.1)


def test_debug_is_off_unless_set(monkeypatch):
    monkeypatch.delenv("DEBUG", raising=False)
    assert env_bool("DEBUG", False) is False
    monkeypatch.setenv("DEBUG", "true")
    assert env_bool("DEBUG", False) is True


def test_the_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(tmp_path)
    assert len(first) >= 50
    assert load_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_secret_key(tmp_path) == "from-the-environment"


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"Models changed without a migration:\n{out.getvalue()}")
