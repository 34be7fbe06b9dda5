"""Browser fixtures: a live server in its own process, Chromium, a signed-in page.

The app runs under daphne in a subprocess with its own SQLite database in a
temporary DATA_DIR; this process never touches a database. Chromium is
Debian's (/usr/bin/chromium): no browser is downloaded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.fake_ollama import FakeOllama, Recorded

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
TIMEOUT_MS = 10_000
SERVER_START_SECONDS = 20.0

USERNAME = "alice"
PASSWORD = "a-Long-pass-123"
MODEL = "llama3.2:latest"


# The server ----------------------------------------------------------------


# In the scale-out suite (DATABASE_URL=postgres://…, REDIS_URL=…) the live server
# runs on PostgreSQL and Redis too, each test on a database of its own.
POSTGRES_URL = (
    os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgres") else ""
)


def _postgres_admin(statement: str) -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(POSTGRES_URL)
    with psycopg.connect(
        dbname="postgres", user=config["USER"], password=config["PASSWORD"] or None,
        host=config["HOST"], port=config["PORT"] or 5432, autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute(statement)


def _postgres_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def _drop_postgres_database(name: str) -> None:
    _postgres_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}"')


def server_env(data_dir: Path, ollama_url: str, database: str = "") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    if POSTGRES_URL and database:
        env["DATABASE_URL"] = _postgres_url(database)
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(
        DATA_DIR=str(data_dir),
        OLLAMA_HOST=ollama_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wait_until_up(proc: subprocess.Popen, base_url: str, log_path: Path) -> bool:
    """True once GET /login/ answers; False if the server exited first."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            httpx.get(f"{base_url}/login/", timeout=1.0)
            return True
        except httpx.TransportError:
            time.sleep(0.05)
    stop_process(proc)
    pytest.fail(
        f"the server did not answer within {SERVER_START_SECONDS:.0f} s; its log:\n{log_path.read_text()}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory, fake_ollama_server) -> None:
    """The production settings serve static files through WhiteNoise's manifest."""
    data_dir = tmp_path_factory.mktemp("collectstatic")
    manage(server_env(data_dir, fake_ollama_server.url), "collectstatic", "--noinput", "--verbosity", "0")


@pytest.fixture
def ollama(fake_ollama_server):
    """The fake Ollama, emptied of scripts and recorded requests.

    Scripts queued with enqueue_chat answer streamed replies only; the
    non-streaming requests the app makes on the side (a conversation's title)
    get the fake's own short answer, so they never take a reply's script.
    """
    fake_ollama_server.reset()
    yield fake_ollama_server
    fake_ollama_server.reset()


def reply_requests(fake: FakeOllama) -> list[Recorded]:
    """The streamed /api/chat requests: one per reply."""
    return [
        r
        for r in fake.chat_requests()
        if r.json and r.json.get("messages") and r.json.get("stream") is not False
    ]


TEMPLATE_DATABASE = f"browser_template_{os.getpid()}"


@pytest.fixture(scope="session")
def migrated_data_dir(tmp_path_factory, fake_ollama_server) -> Iterator[Path]:
    """A DATA_DIR with a migrated, empty database; each test starts from a copy.

    On PostgreSQL the migrated database is a template each test's database is made from.
    """
    data_dir = tmp_path_factory.mktemp("migrated") / "data"
    data_dir.mkdir()
    if POSTGRES_URL:
        _drop_postgres_database(TEMPLATE_DATABASE)
        _postgres_admin(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    manage(server_env(data_dir, fake_ollama_server.url, TEMPLATE_DATABASE), "migrate", "--noinput")
    yield data_dir
    if POSTGRES_URL:
        _drop_postgres_database(TEMPLATE_DATABASE)


class LiveServer:
    """The app under daphne in a process of its own, on a fixed port and DATA_DIR.

    It can be stopped and started again on the same port and data, the way a
    server restarts under people who keep their tabs open.
    """

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self) -> bool:
        """Start daphne on self.port; true once it answers, false if it exited first."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "chatsite.asgi:application",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return wait_until_up(self.proc, self.url, self.log_path)

    def start(self) -> None:
        """Start on a free port the first time, on the same port afterwards."""
        if self.port:
            if not self._spawn():
                pytest.fail(
                    f"the server did not start again; its log:\n{self.log_path.read_text()}", pytrace=False
                )
            return
        for _attempt in range(3):  # the port may be taken between picking and binding
            self.port = free_port()
            if self._spawn():
                return
            self.proc.wait()
            if "Address already in use" not in self.log_path.read_text():
                break
        pytest.fail(
            f"the server exited with {self.proc.returncode}; its log:\n{self.log_path.read_text()}",
            pytrace=False,
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM to its PID, then SIGKILL if it lingers)."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def manage(self, *args: str) -> None:
        """Run a manage.py command against this server's database."""
        manage(self.env, *args)


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
            _postgres_admin(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE_DATABASE}"')
        server = LiveServer(server_env(data_dir, ollama_url, database), tmp_path / f"server-{name}.log")
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
            _drop_postgres_database(database)
    if died:
        pytest.fail("the server died during the test: " + "\n".join(died), pytrace=False)


@pytest.fixture
def app_server(start_live_server, ollama) -> LiveServer:
    """A fresh app (empty database) under daphne, in its own process, on the fake Ollama."""
    return start_live_server(ollama.url)


@pytest.fixture
def live_server_url(app_server: LiveServer) -> str:
    return app_server.url


# The browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, start_live_server) -> Iterator[BrowserContext]:
    # Set up after start_live_server, so torn down before it: the servers stop
    # once the pages are closed. A request still in flight when daphne gets
    # SIGTERM keeps the process from exiting until it is killed.
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


def sign_up(page: Page, base_url: str) -> None:
    """Create the first account through the first-run page; lands on the chat page."""
    page.goto(base_url)
    expect(page).to_have_url(f"{base_url}/setup/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base_url}/")


def choose_model(page: Page, name: str = MODEL) -> None:
    """Pick a model once the picker has the installed ones."""
    picker = page.get_by_label("Model")
    expect(picker.locator(f'option[value="{name}"]')).to_have_count(1)
    picker.select_option(value=name)
    expect(picker).to_have_value(name)


@pytest.fixture
def signed_in_page(page: Page, live_server_url: str) -> Page:
    """The chat page of a fresh install, signed in as alice, llama3.2 picked."""
    sign_up(page, live_server_url)
    choose_model(page)
    return page


# What the page shows --------------------------------------------------------


def message_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


def user_articles(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"] article[data-role="user"]')


def assistant_articles(page: Page) -> Locator:
    return page.locator('[aria-label="Messages"] article[data-role="assistant"]')


def content(article: Locator) -> Locator:
    return article.locator(".content")


def send_message(page: Page, text: str) -> None:
    box = message_box(page)
    box.fill(text)
    box.press("Enter")


REPLY_STATE = """index => {
    const article = document.querySelectorAll('[aria-label="Messages"] article[data-role="assistant"]')[index];
    const content = article && article.querySelector(".content");
    return content ? {status: article.dataset.status, text: content.textContent} : null;
}"""
STREAMING_TEXT = f"""([index, text]) => {{
    const reply = ({REPLY_STATE})(index);
    return reply && reply.status === "streaming" && reply.text.includes(text) ? reply.text : null;
}}"""


def streaming_text(page: Page, index: int, expected: str) -> str:
    """Wait until reply `index` shows `expected` while still streaming; its text then."""
    try:
        return page.wait_for_function(STREAMING_TEXT, arg=[index, expected]).json_value()
    except PlaywrightTimeoutError:
        seen = page.evaluate(REPLY_STATE, index)
        pytest.fail(f"reply {index} never showed {expected!r} while streaming; now it is {seen}")
