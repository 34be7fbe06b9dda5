"""The processes a benchmark run starts: the fake Ollama server, daphne workers, the data helper.

Everything binds to 127.0.0.1 on a free port, is stopped by its own PID, and
lives in one temporary DATA_DIR (SQLite, the in-memory channel layer, DEBUG
off: the embedded production defaults).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
START_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """Resident set size of a process (or another field, e.g. RssAnon), from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


class Process:
    """A child process with its output in a log file; stopped by PID only."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def rss_bytes(self, field: str = "VmRSS") -> int:
        return rss_bytes(self.pid, field)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)

    def wait_until_answers(self, url: str, *, ok: bool = True) -> float:
        """Seconds from now until `url` answers (with 200 if `ok`); fails if the process dies first."""
        started = time.perf_counter()
        deadline = started + START_TIMEOUT
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() < deadline:
                if not self.alive():
                    raise RuntimeError(
                        f"{self.name} exited ({self.popen.returncode}):\n{self.log_text()[-3000:]}"
                    )
                try:
                    response = client.get(url)
                    if not ok or response.status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer {url} within {START_TIMEOUT:.0f} s:\n{self.log_text()[-3000:]}"
        )


class FakeOllama(Process):
    def __init__(
        self, site: Site, *, tokens: int, delay: float, token_text: str = " word", markdown: bool = False
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tokens, self.delay, self.token_text = tokens, delay, token_text
        args = [
            PYTHON,
            "-m",
            "tests.fake_ollama",
            "--port",
            str(self.port),
            "--delay",
            str(delay),
            "--tokens",
            str(tokens),
            "--token-text",
            token_text,
            "--backlog",
            "4096",
            "--nodelay",
            *(["--markdown"] if markdown else []),
        ]
        super().__init__(f"fake-ollama-{self.port}", args, site.env(), site.dir / f"fake-{self.port}.log")
        self.wait_until_answers(f"{self.url}/")


class Worker(Process):
    """One daphne process serving the app; `start_seconds` is its cold start, until /login/ answers."""

    def __init__(self, site: Site, ollama: FakeOllama, name: str, *, count_writes: bool = True) -> None:
        self.site = site
        self.writes_log = site.dir / f"{name}-writes.log"
        env = site.env(ollama.url)
        if count_writes:
            env["BENCH_WRITES_LOG"] = str(self.writes_log)
        module = "bench.counting" if count_writes else "chatsite.serve"
        for _attempt in range(3):  # the port may be taken between choosing and binding
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            args = [
                PYTHON,
                "-m",
                module,
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
            ]
            started = time.perf_counter()
            super().__init__(name, args, env, site.dir / f"{name}.log")
            try:
                self.wait_until_answers(f"{self.url}/login/")
            except RuntimeError:
                if "Address already in use" in self.log_text():
                    continue
                raise
            self.start_seconds = time.perf_counter() - started
            return
        raise RuntimeError(f"{name} found no free port")

    def writes(self, since: float, until: float) -> list[str]:
        """Write statements this worker ran between two time.monotonic() readings."""
        if not self.writes_log.exists():
            return []
        found = []
        for line in self.writes_log.read_text().splitlines():
            stamp, _, statement = line.partition(" ")
            if since <= float(stamp) <= until:
                found.append(statement)
        return found


class Site:
    """One run's installation: a temporary DATA_DIR with a migrated SQLite database."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.data_dir = directory / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secret_key = secrets.token_urlsafe(50)
        self.processes: list[Process] = []

    def env(self, ollama_url: str = "http://127.0.0.1:9") -> dict[str, str]:
        dropped = ("DATABASE_URL", "REDIS_URL", "DEBUG")
        env = {k: v for k, v in os.environ.items() if k not in dropped and not k.lower().endswith("_proxy")}
        env.update(
            DJANGO_SETTINGS_MODULE="chatsite.settings",
            DATA_DIR=str(self.data_dir),
            STATIC_ROOT=str(self.dir / "static"),
            SECRET_KEY=self.secret_key,
            OLLAMA_HOST=ollama_url,
            ALLOWED_HOSTS="127.0.0.1",
            GENERATE_TITLES="false",
            API_RATE_LIMIT="1000000",  # the API's figures make calls as fast as they can
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
        )
        return env

    def manage(self, *args: str) -> None:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def prepare(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput", "--verbosity", "0")

    def helper(self, command: str, **params: Any) -> Any:
        """Run bench.seed in the app's environment (its own process) and return its JSON answer."""
        env = self.env()
        env["ALLOWED_HOSTS"] = "127.0.0.1,testserver"  # the helper's test Client asks as "testserver"
        result = subprocess.run(
            [PYTHON, "-m", "bench.seed"],
            cwd=REPO,
            env=env,
            input=json.dumps({"command": command, **params}),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"bench.seed {command} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_fake(self, **options: Any) -> FakeOllama:
        fake = FakeOllama(self, **options)
        self.processes.append(fake)
        return fake

    def start_worker(self, ollama: FakeOllama, name: str, **options: Any) -> Worker:
        worker = Worker(self, ollama, name, **options)
        self.processes.append(worker)
        return worker

    def stop(self, process: Process) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
