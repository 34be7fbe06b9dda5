"""Fixtures: the fake Ollama server, people (alice owns, bob is another user, admin is staff), sockets."""

from __future__ import annotations

import gc
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from django.db import connections

from conversations.chat import liveness
from conversations.models import Conversation
from conversations.ollama import catalog
from tests.fake_ollama import FakeOllama
from tests.live_server import (
    POSTGRES_URL,
    TEMPLATE_DATABASE,
    LiveServer,
    drop_postgres_database,
    manage,
    postgres_admin,
    server_env,
)


@pytest.fixture(scope="session", autouse=True)
def _default_garbage_collection():
    """chatsite/asgi.py tunes the collector for a long-lived worker; tests keep Python's
    defaults, so that a resource left open is reported by the test that left it."""
    import chatsite.asgi  # noqa: F401

    gc.unfreeze()
    gc.set_threshold(700, 10, 10)


@pytest.fixture(scope="session")
def fake_ollama_server():
    server = FakeOllama().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fake_mcp_server():
    from tests.fake_mcp import FakeMcp

    server = FakeMcp().start()
    yield server
    server.stop()


@pytest.fixture
def fake_mcp(fake_mcp_server):
    fake_mcp_server.calls.clear()
    fake_mcp_server.headers.clear()
    fake_mcp_server.cancelled.clear()
    yield fake_mcp_server


@pytest.fixture(scope="session", autouse=True)
def _close_database_pool(django_db_setup, django_db_blocker):
    """On PostgreSQL the pool keeps connections open; close it before the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()
            if connection.vendor == "postgresql":
                _disconnect_others(connection.settings_dict)


def _disconnect_others(database: dict) -> None:
    """End sessions other processes (the scale-out tests' workers) may have left on the test database."""
    import psycopg

    with psycopg.connect(
        dbname="postgres",
        user=database["USER"],
        host=database["HOST"],
        port=database["PORT"] or 5432,
        autocommit=True,
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database["NAME"]],
        )


@pytest.fixture
def ollama(fake_ollama_server, settings):
    fake_ollama_server.reset()
    settings.OLLAMA_HOST = fake_ollama_server.url
    yield fake_ollama_server


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.GENERATE_TITLES = False  # tests of titles turn it on
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Each test runs on its own event loop: start with a fresh in-memory layer.
    channel_layers.backends.clear()
    catalog.forget()
    yield
    liveness.running.clear()


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password="alice-password")


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password="bob-password")


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_user("admin", password="admin-password", is_staff=True)


@pytest.fixture
def conversation(alice):
    return Conversation.objects.create(owner=alice, model="llama3.2", title="Test chat")


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: Playwright's sync API keeps an event loop running
    in the main thread for the rest of the session, where async tests cannot run."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# Live servers (daphne in a process of its own) -------------------------------


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory, fake_ollama_server) -> Path:
    """The production settings serve static files through WhiteNoise's manifest; the
    live servers of a test session share one collection, outside the working tree."""
    data_dir = tmp_path_factory.mktemp("collectstatic")
    static_root = tmp_path_factory.mktemp("static")
    env = server_env(data_dir, fake_ollama_server.url, static_root=static_root)
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    return static_root


@pytest.fixture(scope="session")
def migrated_data_dir(tmp_path_factory, fake_ollama_server) -> Iterator[Path]:
    """A DATA_DIR with a migrated, empty database; each test starts from a copy.

    On PostgreSQL the migrated database is a template each test's database is made from.
    """
    data_dir = tmp_path_factory.mktemp("migrated") / "data"
    data_dir.mkdir()
    if POSTGRES_URL:
        drop_postgres_database(TEMPLATE_DATABASE)
        postgres_admin(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    manage(server_env(data_dir, fake_ollama_server.url, TEMPLATE_DATABASE), "migrate", "--noinput")
    yield data_dir
    if POSTGRES_URL:
        drop_postgres_database(TEMPLATE_DATABASE)


@pytest.fixture
def start_live_server(tmp_path, collected_static, migrated_data_dir) -> Iterator[Callable[[str], LiveServer]]:
    """Start fresh apps (each on an empty database) talking to the Ollama at a given URL."""
    started: list[tuple[LiveServer, str]] = []

    def start(ollama_url: str) -> LiveServer:
        name = f"data{len(started)}" if started else "data"
        data_dir = tmp_path / name
        shutil.copytree(migrated_data_dir, data_dir)  # the database and any WAL file with it
        database = ""
        if POSTGRES_URL:
            database = f"browser_{uuid.uuid4().hex[:12]}"
            postgres_admin(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE_DATABASE}"')
        env = server_env(data_dir, ollama_url, database, static_root=collected_static)
        server = LiveServer(env, tmp_path / f"server-{name}.log")
        started.append((server, database))
        server.start()
        return server

    yield start
    died = []
    for server, database in started:
        if server.proc is not None and server.proc.poll() is not None:
            died.append(f"exit code {server.proc.returncode}; its log:\n{server.log_path.read_text()}")
        server.stop()
        if database:
            drop_postgres_database(database)
    if died:
        pytest.fail("the server died during the test: " + "\n".join(died), pytrace=False)
