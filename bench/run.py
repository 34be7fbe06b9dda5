"""Run the benchmark and print the table: python -m bench.run [--quick] [--output docs/performance.md] [--keep].

It starts the fake Ollama server and the app (daphne, SQLite, the in-memory
channel layer, DEBUG off, static files collected) in a fresh temporary
DATA_DIR, measures every figure next to the same work done directly against
the fake server, prints a Markdown table, and with --output puts the table,
the machine and the date between the markers of that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import footprint, page, pool, relay, reply_frames
from bench.report import build_rows, table
from bench.servers import Site

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass
class Sizes:
    warmup: int = 3
    ttft_iterations: int = 30
    stream_tokens: int = 20_000
    stream_rounds: int = 7
    burst_chats: int = 200
    burst_tokens: int = 500
    burst_delay: float = 0.02
    sockets: int = 1000
    long_messages: int = 2000
    sidebar: int = 30
    admin_conversations: int = 10_000
    admin_messages: int = 200_000
    page_loads: int = 5
    page_reply_tokens: int = 20_000
    http_repeats: int = 5
    pool_sizes: list[int] = field(default_factory=lambda: [1, 50, 200])


QUICK = Sizes(
    warmup=1,
    ttft_iterations=4,
    stream_tokens=2000,
    stream_rounds=1,
    burst_chats=20,
    burst_tokens=50,
    sockets=50,
    long_messages=200,
    sidebar=5,
    admin_conversations=200,
    admin_messages=2000,
    page_loads=1,
    page_reply_tokens=2000,
    http_repeats=2,
    pool_sizes=[20],
)


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def seed(site: Site, sizes: Sizes) -> dict[str, Any]:
    ttft_count = sizes.warmup + sizes.ttft_iterations
    return site.helper(
        "seed",
        users=[{"name": "relay"}, {"name": "page"}, {"name": "admin", "superuser": True}],
        api_keys=["relay"],
        sets=[
            {"key": "idle", "owner": "relay", "count": 1, "messages": 2},
            {"key": "ttft_new", "owner": "relay", "count": ttft_count, "messages": 0},
            {"key": "ttft_follow", "owner": "relay", "count": ttft_count, "messages": 50},
            {"key": "stream", "owner": "relay", "count": sizes.stream_rounds + 1, "messages": 0},
            {"key": "burst", "owner": "relay", "count": sizes.burst_chats, "messages": 0},
            {"key": "sidebar", "owner": "page", "count": sizes.sidebar, "messages": 4},
            {"key": "long", "owner": "page", "count": 1, "messages": sizes.long_messages},
        ],
    )


def run(sizes: Sizes, directory: Path, log: Any) -> dict[str, Any]:
    site = Site(directory)
    timings: dict[str, float] = {}

    def phase(name: str, function: Any, *args: Any) -> Any:
        print(f"… {name}", file=log, flush=True)
        started = time.perf_counter()
        result = function(*args)
        timings[name] = time.perf_counter() - started
        return result

    try:
        phase("prepare (migrate, collectstatic)", site.prepare)
        seeded = phase("seed", seed, site, sizes)
        fp = phase("memory and start", footprint.measure_footprint, site, sizes, seeded)
        ttft = phase("time to first token", relay.measure_ttft, site, sizes, seeded)
        stream = phase("throughput", relay.measure_throughput, site, sizes, seeded)
        burst = phase("burst", relay.measure_burst, site, sizes, seeded)
        api = phase("API", relay.measure_api, site, sizes, seeded)
        probe = phase("httpx pool", pool.measure_pool, site, sizes)
        pages = phase("page and admin", page.measure_page, site, sizes, seeded)
        pages["reply_frames"] = phase(
            "a long reply in the page", reply_frames.measure_reply_frames, site, sizes, seeded
        )
    finally:
        site.stop_all()
    starts = [
        fp["start_seconds"],
        ttft["start_seconds"],
        stream["start_seconds"],
        burst["start_seconds"],
        api["start_seconds"],
        pages["start_seconds"],
    ]
    summary = relay.summarize(ttft, stream, burst) | {"api": relay.summarize_api(api)}
    rows = build_rows(summary, fp, pages, probe, starts, sizes)
    return {
        "rows": rows,
        "summary": summary,
        "footprint": fp,
        "page": pages,
        "pool": probe,
        "timings": timings,
    }


def document(result: dict[str, Any], info: dict[str, str], quick: bool, seconds: float) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "python -m bench.run --quick" if quick else "make bench"
    return "\n".join(
        [
            f"Measured {stamp} with `{mode}` ({seconds:.0f} s) on {info['cpus']} × {info['cpu']}, "
            f"{info['memory']} RAM, Python {info['python']}, {info['system']}; load average (1, 5, 15 min) "
            f"before the run: {info['load']}, after: {machine()['load']}.",
            "",
            table(result["rows"]),
        ]
    )


def write_output(path: Path, block: str) -> None:
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    path.write_text(pattern.sub(lambda _match: f"{BEGIN}\n{block}\n{END}", text, count=1))


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the app against the fake Ollama server.")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: checks that every figure is measured"
    )
    parser.add_argument(
        "--output", type=Path, help="put the table into this Markdown file (between its markers)"
    )
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, database)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    info = machine()
    directory = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    started = time.perf_counter()
    try:
        result = run(sizes, directory, sys.stderr)
    except Exception:
        print(f"The benchmark failed; its logs are in {directory}", file=sys.stderr)
        raise
    seconds = time.perf_counter() - started
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    block = document(result, info, args.quick, seconds)
    print(block)
    print("\nPhases: " + ", ".join(f"{name} {value:.1f} s" for name, value in result["timings"].items()))
    if args.keep:
        print(f"Logs and database: {directory}")
    if args.json:
        rows = [asdict(row) for row in result["rows"]]
        extra = {key: value for key, value in result.items() if key != "rows"}
        args.json.write_text(json.dumps({"machine": info, "rows": rows, **extra}, indent=1, default=str))
    if args.output:
        write_output(args.output, block)


if __name__ == "__main__":
    main()
