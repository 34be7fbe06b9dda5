"""The app under daphne in a process of its own, with its own data: for browser and worker tests.

Each server gets a copy of a migrated SQLite database in a temporary DATA_DIR
(or, in the scale-out suite, a PostgreSQL database of its own made from a
migrated template) and talks to the Ollama at the URL it is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[1]
SERVER_START_SECONDS = 20.0
TEMPLATE_DATABASE = f"live_template_{os.getpid()}"


# In the scale-out suite (DATABASE_URL=postgres://…, REDIS_URL=…) the live server
# runs on PostgreSQL and Redis too, each test on a database of its own.
POSTGRES_URL = (
    os.environ.get("DATABASE_URL", "") if os.environ.get("DATABASE_URL", "").startswith("postgres") else ""
)


def postgres_admin(statement: str) -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(POSTGRES_URL)
    with psycopg.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"],
        port=config["PORT"] or 5432,
        autocommit=True,
    ) as admin:
        admin.execute(statement)


def postgres_url(name: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(name: str) -> None:
    postgres_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}"')


def server_env(
    data_dir: Path, ollama_url: str, database: str = "", static_root: Path | None = None
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    if POSTGRES_URL and database:
        env["DATABASE_URL"] = postgres_url(database)
        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
    env.update(
        DATA_DIR=str(data_dir),
        OLLAMA_HOST=ollama_url,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SETTINGS_MODULE="chatsite.settings",
        PYTHONUNBUFFERED="1",
    )
    if static_root is not None:  # collected for the tests, away from the working tree
        env["STATIC_ROOT"] = str(static_root)
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
                [sys.executable, "-m", "chatsite.serve", "-b", "127.0.0.1", "-p", str(self.port)],
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


PASSWORD = "a-Long-pass-123"


def signed_up(server: LiveServer, username: str = "alice") -> httpx.Client:
    """A client whose session is the first account, made on the first-run page (close it after)."""
    client = httpx.Client(base_url=server.url, timeout=10)
    client.get("/setup/")
    response = client.post(
        "/setup/",
        data={
            "username": username,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert response.status_code == 302, response.text
    return client
