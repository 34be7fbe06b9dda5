"""Figures 1–4 and 7: time to first token, single-stream throughput, a burst of new chats, writes
and bytes; the same first token and throughput through the OpenAI-compatible API.

Every relay measurement is paired with the same work done by a direct httpx
client against the same fake Ollama process, and the two alternate so that
noise on the machine falls on both.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.clients import (
    Reply,
    Tab,
    api_chat,
    chat_payload,
    direct_chat,
    direct_client,
    open_tabs,
    same_text,
    tokens_in,
)
from bench.servers import Site
from bench.stats import median, percentile

REPLY_TIMEOUT = 60.0


def _writes_per_reply(worker: Any, since: float, until: float, replies: int) -> dict[str, Any]:
    statements = worker.writes(since, until)
    return {"total": len(statements), "replies": replies, "per_reply": len(statements) / max(replies, 1)}


async def _ttft_pairs(
    worker: Any, ollama_url: str, cookie: str, ids: list[str], history: list[dict[str, str]], warmup: int
) -> dict[str, Any]:
    relay, direct, failures, saved = [], [], [], []
    async with direct_client() as client:
        since = None
        for index, conversation_id in enumerate(ids):
            if index == warmup:
                since = time.monotonic()
            content = f"Turn {index}: say something short."
            tab = await Tab.open(worker.url, conversation_id, cookie)
            try:
                order = ("relay", "direct") if index % 2 == 0 else ("direct", "relay")
                for side in order:
                    if side == "relay":
                        reply = await tab.chat(content, timeout=REPLY_TIMEOUT)
                    else:
                        reply = await direct_chat(
                            client, ollama_url, chat_payload(history, content), timeout=REPLY_TIMEOUT
                        )
                    if reply.failure or reply.errors or reply.ttft is None:
                        failures.append(f"{side}: {reply.failure or reply.errors}")
                    elif index >= warmup:
                        (relay if side == "relay" else direct).append(reply.ttft)
                        if side == "relay":
                            saved.append(reply.marks.get("message", float("nan")))
            finally:
                await tab.close()
        until = time.monotonic()
    return {
        "relay": relay,
        "direct": direct,
        "failures": failures,
        "message_frame": saved,  # chat frame → the "message" frame: the question saved, the reply row made
        "writes": _writes_per_reply(worker, since or until, until, len(relay)),
    }


def measure_ttft(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Figure 1: chat frame → first token frame, against a direct client's first NDJSON chunk."""
    fake = site.start_fake(tokens=20, delay=0.0)
    worker = site.start_worker(fake, "ttft")
    try:
        cookie = seeded["sessions"]["relay"]
        results = {}
        for key in ("ttft_new", "ttft_follow"):
            results[key] = asyncio.run(
                _ttft_pairs(
                    worker, fake.url, cookie, seeded["sets"][key], seeded["histories"][key], sizes.warmup
                )
            )
        results["start_seconds"] = worker.start_seconds
        return results
    finally:
        site.stop(worker)
        site.stop(fake)


async def _throughput(worker: Any, ollama_url: str, cookie: str, ids: list[str], tokens: int, warmup: int):
    rows: dict[str, list[dict[str, Any]]] = {"relay": [], "direct": []}
    failures = []
    writes: list[dict[str, Any]] = []
    async with direct_client() as client:
        for index, conversation_id in enumerate(ids):
            tab = await Tab.open(worker.url, conversation_id, cookie)
            try:
                order = ("relay", "direct") if index % 2 == 0 else ("direct", "relay")
                for side in order:
                    content = f"Round {index}: write a long text."
                    cpu_before, since = (
                        (worker.cpu_seconds() if side == "relay" else time.process_time()),
                        time.monotonic(),
                    )
                    if side == "relay":
                        reply = await tab.chat(content, timeout=REPLY_TIMEOUT * 3)
                    else:
                        reply = await direct_chat(
                            client, ollama_url, chat_payload([], content), timeout=REPLY_TIMEOUT * 3
                        )
                    cpu = (worker.cpu_seconds() if side == "relay" else time.process_time()) - cpu_before
                    received = tokens_in(reply.text)
                    if reply.failure or reply.errors or reply.status != "complete" or received != tokens:
                        failures.append(
                            f"{side}: {reply.failure or reply.errors or reply.status} ({received} tokens)"
                        )
                        continue
                    if index < warmup:
                        continue
                    elapsed = reply.last - reply.started
                    frames = len(reply.arrivals)
                    # The last frame may come early: the end of a reply cuts the pause short.
                    steady = reply.arrivals[:-1]
                    span = steady[-1] - steady[0] if len(steady) > 1 else 0.0
                    rows[side].append(
                        {
                            "rate": tokens / elapsed,
                            "cpu_per_token": cpu / tokens,
                            "frames": frames,
                            "frames_per_second": (len(steady) - 1) / span if span > 0 else 0.0,
                            "bytes_per_token": reply.bytes_total / tokens,
                            "text_bytes_per_token": reply.bytes_text / tokens,
                        }
                    )
                    if side == "relay":
                        writes.append(_writes_per_reply(worker, since, time.monotonic(), 1))
            finally:
                await tab.close()
    return rows, failures, writes


def measure_throughput(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Figure 2 (and 4): one reply of many tokens sent as fast as the fake server can."""
    fake = site.start_fake(tokens=sizes.stream_tokens, delay=0.0)
    worker = site.start_worker(fake, "throughput")
    try:
        rows, failures, writes = asyncio.run(
            _throughput(
                worker,
                fake.url,
                seeded["sessions"]["relay"],
                seeded["sets"]["stream"],
                sizes.stream_tokens,
                1,
            )
        )
        return {
            "rows": rows,
            "failures": failures,
            "writes": writes,
            "tokens": sizes.stream_tokens,
            "start_seconds": worker.start_seconds,
        }
    finally:
        site.stop(worker)
        site.stop(fake)


async def _burst_relay(worker: Any, cookie: str, ids: list[str], expected: str) -> dict[str, Any]:
    opened = await open_tabs(worker.url, ids, cookie)
    tabs = [tab for tab in opened if isinstance(tab, Tab)]
    not_opened = [repr(exc) for exc in opened if not isinstance(exc, Tab)]
    try:
        cpu_before, since = worker.cpu_seconds(), time.monotonic()
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(tab.chat(f"Burst chat {index}", timeout=REPLY_TIMEOUT) for index, tab in enumerate(tabs))
        )
        elapsed = time.perf_counter() - started
        until = time.monotonic()
        cpu = worker.cpu_seconds() - cpu_before
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))
    return _burst_summary(replies, expected, not_opened) | {
        "worker_cpu": cpu,
        "elapsed": elapsed,
        "writes": _writes_per_reply(worker, since, until, len(replies)),
    }


async def _burst_direct(ollama_url: str, count: int, expected: str) -> dict[str, Any]:
    async with direct_client() as client:
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(
                direct_chat(
                    client, ollama_url, chat_payload([], f"Burst chat {index}"), timeout=REPLY_TIMEOUT
                )
                for index in range(count)
            )
        )
        elapsed = time.perf_counter() - started
    return _burst_summary(replies, expected, []) | {"elapsed": elapsed}


def _burst_summary(replies: list[Any], expected: str, not_opened: list[str]) -> dict[str, Any]:
    failures: dict[str, int] = {"socket not opened": len(not_opened)} if not_opened else {}
    for reply in replies:
        if reply.ok(expected):
            continue
        complete = not reply.failure and not reply.errors and reply.status == "complete"
        if complete and (reply.seq_gaps or same_text(reply.saved_text or "", expected)):
            # The reply is whole in its done frame, but token frames never reached the socket.
            reason = "with token frames dropped"
        else:
            reason = (
                reply.failure
                or ",".join(reply.errors)
                or (f"status {reply.status}" if reply.status != "complete" else "text incomplete")
            )
        failures[reason] = failures.get(reason, 0) + 1
    ttfts = [reply.ttft for reply in replies if reply.ttft is not None]
    gaps = [gap for reply in replies for gap in reply.gaps()]
    tokens = sum(tokens_in(reply.text) for reply in replies)
    return {
        "count": len(replies) + len(not_opened),
        "failures": failures,
        "failed": sum(failures.values()),
        "ttft": ttfts,
        "gaps": gaps,
        "bytes_per_token": sum(reply.bytes_total for reply in replies) / max(tokens, 1),
        "frames_per_reply": median([len(reply.arrivals) for reply in replies]) if replies else 0,
    }


def measure_burst(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Figure 3: many new conversations started at once on one worker (SQLite, in-memory layer)."""
    fake = site.start_fake(tokens=sizes.burst_tokens, delay=sizes.burst_delay)
    worker = site.start_worker(fake, "burst")
    expected = " word" * sizes.burst_tokens
    ids = seeded["sets"]["burst"]
    try:
        relay = asyncio.run(_burst_relay(worker, seeded["sessions"]["relay"], ids, expected))
        direct = asyncio.run(_burst_direct(fake.url, len(ids), expected))
        log = worker.log_text()
        saved = site.helper("replies", conversations=ids)["replies"]
        complete = sum(
            1 for entry in saved if entry and entry[0] == "complete" and entry[1] == len(expected.lstrip())
        )
        return {
            "relay": relay,
            "direct": direct,
            "locked": log.count("database is locked"),
            "tracebacks": log.count("Traceback"),
            "saved_complete": complete,
            "start_seconds": worker.start_seconds,
        }
    finally:
        site.stop(worker)
        site.stop(fake)


def summarize(ttft: dict[str, Any], stream: dict[str, Any], burst: dict[str, Any]) -> dict[str, Any]:
    """The numbers the table shows, from the three phases."""

    def pair(samples: dict[str, Any]) -> dict[str, float]:
        return {
            "relay_p50": median(samples["relay"]),
            "relay_p99": percentile(samples["relay"], 99),
            "direct_p50": median(samples["direct"]),
            "direct_p99": percentile(samples["direct"], 99),
            "added_p50": median(samples["relay"]) - median(samples["direct"]),
            "added_p99": percentile(samples["relay"], 99) - percentile(samples["direct"], 99),
            "n": len(samples["relay"]),
            "failures": len(samples["failures"]),
            "message_frame_p50": median(samples["message_frame"]),
        }

    relay_rows, direct_rows = stream["rows"]["relay"], stream["rows"]["direct"]
    return {
        "ttft_new": pair(ttft["ttft_new"]),
        "ttft_follow": pair(ttft["ttft_follow"]),
        "stream": {
            "tokens": stream["tokens"],
            "relay_rate": median([row["rate"] for row in relay_rows]),
            "direct_rate": median([row["rate"] for row in direct_rows]),
            "relay_cpu": median([row["cpu_per_token"] for row in relay_rows]),
            "direct_cpu": median([row["cpu_per_token"] for row in direct_rows]),
            "frames": median([row["frames"] for row in relay_rows]),
            "frames_per_second": median([row["frames_per_second"] for row in relay_rows]),
            "relay_bytes": median([row["bytes_per_token"] for row in relay_rows]),
            "relay_text_bytes": median([row["text_bytes_per_token"] for row in relay_rows]),
            "direct_bytes": median([row["bytes_per_token"] for row in direct_rows]),
            "writes": median([entry["total"] for entry in stream["writes"]]),
            "failures": stream["failures"],
            "n": len(relay_rows),
        },
        "burst": burst,
        "writes_new": ttft["ttft_new"]["writes"]["per_reply"],
        "writes_follow": ttft["ttft_follow"]["writes"]["per_reply"],
        "writes_burst": burst["relay"]["writes"]["per_reply"],
    }


# Figure 7: the API ---------------------------------------------------------------


async def _api_pairs(
    base_url: str, ollama_url: str, key: str, rounds: int, warmup: int, tokens: int | None
) -> dict[str, Any]:
    """A streamed chat completion (each a new conversation) against the direct client, alternating."""
    samples: dict[str, list[Reply]] = {"api": [], "direct": []}
    failures = []
    async with direct_client() as client:
        for index in range(rounds):
            payload = chat_payload([], f"Call {index}: say something.")
            order = ("api", "direct") if index % 2 == 0 else ("direct", "api")
            for side in order:
                if side == "api":
                    reply = await api_chat(client, base_url, key, payload, timeout=REPLY_TIMEOUT * 3)
                else:
                    reply = await direct_chat(client, ollama_url, payload, timeout=REPLY_TIMEOUT * 3)
                received = tokens_in(reply.text)
                if (
                    reply.failure
                    or reply.errors
                    or reply.status != "complete"
                    or (tokens and received != tokens)
                ):
                    failures.append(
                        f"{side}: {reply.failure or reply.errors or reply.status} ({received} tokens)"
                    )
                elif index >= warmup:
                    samples[side].append(reply)
    return {"samples": samples, "failures": failures}


def measure_api(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Figure 7: /v1/chat/completions streamed, first token and one fast stream, next to the direct client."""
    key = seeded["api_keys"]["relay"]
    results: dict[str, Any] = {}
    for name, tokens, rounds in (
        ("ttft", 20, sizes.warmup + sizes.ttft_iterations),
        ("stream", sizes.stream_tokens, sizes.stream_rounds + 1),
    ):
        fake = site.start_fake(tokens=tokens, delay=0.0)
        worker = site.start_worker(fake, f"api-{name}")
        try:
            warmup = sizes.warmup if name == "ttft" else 1
            results[name] = asyncio.run(
                _api_pairs(worker.url, fake.url, key, rounds, warmup, tokens if name == "stream" else None)
            )
            results[name]["tokens"] = tokens
            results["start_seconds"] = worker.start_seconds
        finally:
            site.stop(worker)
            site.stop(fake)
    return results


def summarize_api(api: dict[str, Any]) -> dict[str, Any]:
    ttft, stream = api["ttft"]["samples"], api["stream"]["samples"]

    def ttfts(side: str) -> list[float]:
        return [reply.ttft for reply in ttft[side]]

    def rate(reply: Reply) -> float:
        return tokens_in(reply.text) / (reply.last - reply.started)

    return {
        "ttft_p50": median(ttfts("api")),
        "ttft_p99": percentile(ttfts("api"), 99),
        "direct_p50": median(ttfts("direct")),
        "direct_p99": percentile(ttfts("direct"), 99),
        "added_p50": median(ttfts("api")) - median(ttfts("direct")),
        "added_p99": percentile(ttfts("api"), 99) - percentile(ttfts("direct"), 99),
        "n": len(ttft["api"]),
        "rate": median([rate(reply) for reply in stream["api"]]),
        "direct_rate": median([rate(reply) for reply in stream["direct"]]),
        "tokens": api["stream"]["tokens"],
        "failures": api["ttft"]["failures"] + api["stream"]["failures"],
    }
