"""The table: one row per figure, the app next to the direct client (the limit), the reference and the target."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.stats import percentile
from conversations.ollama.client import POOL_LIMITS

# Every row the table has, in order; tests/test_benchmark.py checks that a run prints them all.
LABELS = {
    "ttft_new": "1. TTFT added, new conversation",
    "ttft_follow": "1. TTFT added, follow-up in a 50-message conversation",
    "throughput": "2. Relay throughput, one fast stream",
    "cpu": "2. Worker CPU per token",
    "burst_failures": "3. Burst of new chats: failures",
    "burst_ttft": "3. Burst: TTFT p50 / p99",
    "burst_gap": "3. Burst: frame gap p50 / p99",
    "burst_saved": "3. Burst: replies complete and saved",
    "writes": "4. Database writes per reply",
    "frames": "4. Frames per fast reply",
    "bytes": "4. Bytes to the browser per token",
    "rss_idle": "5. Worker RSS, idle",
    "rss_socket": "5. Worker RSS per idle socket",
    "start": "5. Cold start until the first page answers",
    "page_bytes": "6. Chat page cold load (HTML + CSS + JS, compressed)",
    "page_usable": "6. Message box usable after navigation start",
    "reply_frames": "6. Page time per frame of a long streaming reply (first / last frames)",
    "long": "6. Open a long conversation (server time)",
    "admin": "6. Admin conversation list (server time, queries)",
    "api_ttft": "7. API TTFT added, streamed chat completion (new conversation)",
    "api_throughput": "7. API throughput, one fast streamed chat completion",
    "pool": "httpx pool shared by concurrent streams (the app's limits)",
}
ROW_LABELS = list(LABELS.values())


@dataclass
class Row:
    label: str
    app: str
    direct: str
    reference: str
    target: str
    met: bool | None


def ms(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "n/a"
    value = seconds * 1000
    return f"{value:.0f} ms" if abs(value) >= 100 else f"{value:.1f} ms"


def secs(seconds: float) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds:.2f} s"


def us(seconds: float) -> str:
    return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds * 1e6:.1f} µs"


def kb(size: float) -> str:
    return f"{size / 1000:.1f} KB"


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def num(value: float) -> str:
    return f"{value:,.0f}"


def _le(value: float, limit: float) -> bool | None:
    return None if value is None or math.isnan(value) else value <= limit


def build_rows(
    relay: dict[str, Any],
    footprint: dict[str, Any],
    page: dict[str, Any],
    pool: list,
    starts: list[float],
    sizes: Any,
) -> list[Row]:
    rows = []
    for key, conversation in (("ttft_new", relay["ttft_new"]), ("ttft_follow", relay["ttft_follow"])):
        rows.append(
            Row(
                LABELS[key],
                f"+{ms(conversation['added_p50'])} median, +{ms(conversation['added_p99'])} p99 "
                f"(relay {ms(conversation['relay_p50'])} / {ms(conversation['relay_p99'])}, n={conversation['n']})",
                f"{ms(conversation['direct_p50'])} / {ms(conversation['direct_p99'])}",
                "≈ 74 ms added",
                "≤ 10 ms median added",
                _le(conversation["added_p50"], 0.010),
            )
        )
    stream = relay["stream"]
    ratio = stream["relay_rate"] / stream["direct_rate"] if stream["direct_rate"] else math.nan
    rows.append(
        Row(
            LABELS["throughput"],
            f"{num(stream['relay_rate'])} tokens/s = {ratio:.2f} × direct ({num(stream['tokens'])} tokens)",
            f"{num(stream['direct_rate'])} tokens/s",
            "0.06 × direct",
            "≥ 0.8 × direct",
            None if math.isnan(ratio) else ratio >= 0.8,
        )
    )
    rows.append(
        Row(
            LABELS["cpu"],
            us(stream["relay_cpu"]),
            f"{us(stream['direct_cpu'])} (the direct httpx client)",
            "≈ 206 µs",
            "≤ 30 µs",
            _le(stream["relay_cpu"], 30e-6),
        )
    )
    burst = relay["burst"]
    b_relay, b_direct = burst["relay"], burst["direct"]
    reasons = ", ".join(f"{count} {reason}" for reason, count in b_relay["failures"].items()) or "none"
    rows.append(
        Row(
            LABELS["burst_failures"],
            f'{b_relay["failed"]} of {b_relay["count"]} ({reasons}); "database is locked" in the log: {burst["locked"]}',
            f"{b_direct['failed']} of {b_direct['count']}",
            "3–8 % failing (50 chats)",
            "0",
            b_relay["failed"] == 0 and burst["locked"] == 0,
        )
    )
    p99 = percentile(b_relay["ttft"], 99)
    rows.append(
        Row(
            LABELS["burst_ttft"],
            f"{ms(percentile(b_relay['ttft'], 50))} / {ms(p99)}",
            f"{ms(percentile(b_direct['ttft'], 50))} / {ms(percentile(b_direct['ttft'], 99))}",
            "p99 6.7 s (50 chats)",
            "p99 ≤ 1 s",
            _le(p99, 1.0),
        )
    )
    gap99 = percentile(b_relay["gaps"], 99)
    rows.append(
        Row(
            LABELS["burst_gap"],
            f"{ms(percentile(b_relay['gaps'], 50))} / {ms(gap99)}",
            f"{ms(percentile(b_direct['gaps'], 50))} / {ms(percentile(b_direct['gaps'], 99))} (NDJSON chunks)",
            "—",
            "p99 ≤ 150 ms",
            _le(gap99, 0.150),
        )
    )
    rows.append(
        Row(
            LABELS["burst_saved"],
            f"{burst['saved_complete']} of {b_relay['count']} ({sizes.burst_tokens} tokens at "
            f"{1 / sizes.burst_delay:.0f} tokens/s each; worker CPU {b_relay['worker_cpu']:.1f} s in {b_relay['elapsed']:.1f} s)",
            f"{b_direct['count'] - b_direct['failed']} of {b_direct['count']} read whole",
            "—",
            "all",
            burst["saved_complete"] == b_relay["count"],
        )
    )
    seconds = stream["tokens"] / stream["relay_rate"] if stream["relay_rate"] else math.nan
    short = relay["writes_new"]
    rows.append(
        Row(
            LABELS["writes"],
            f"{short:.1f} (short reply) · {relay['writes_follow']:.1f} (follow-up) · {stream['writes']:.0f} "
            f"({num(stream['tokens'])} tokens in {seconds:.1f} s) · {relay['writes_burst']:.1f} "
            f"({sizes.burst_tokens} tokens over {sizes.burst_tokens * sizes.burst_delay:.0f} s, burst)",
            "—",
            "—",
            "O(1) per reply",
            None if math.isnan(seconds) else stream["writes"] <= short + math.ceil(seconds) + 1,
        )
    )
    rows.append(
        Row(
            LABELS["frames"],
            f"{stream['frames']:.0f} token frames for {num(stream['tokens'])} tokens "
            f"({stream['frames_per_second']:.0f} frames/s)",
            f"{num(stream['tokens'])} NDJSON chunks",
            "—",
            "no per-token frame (≤ 30 frames/s)",
            stream["frames"] < stream["tokens"] / 10 and stream["frames_per_second"] <= 31,
        )
    )
    rows.append(
        Row(
            LABELS["bytes"],
            f"{stream['relay_bytes']:.1f} B at full speed ({stream['relay_text_bytes']:.1f} B in token frames); "
            f"{b_relay['bytes_per_token']:.1f} B at {1 / sizes.burst_delay:.0f} tokens/s",
            f"{stream['direct_bytes']:.1f} B (Ollama's NDJSON)",
            "—",
            "—",
            None,
        )
    )
    rows.append(
        Row(
            LABELS["rss_idle"],
            f"{mb(footprint['idle_rss'])} (of which {mb(footprint['idle_anon'])} anonymous)",
            "—",
            "≈ 825 MiB",
            "≤ 80 MB",
            _le(footprint["idle_rss"], 80e6),
        )
    )
    rows.append(
        Row(
            LABELS["rss_socket"],
            f"{kb(footprint['per_socket'])} ({footprint['sockets_opened']} sockets: {mb(footprint['sockets_rss'])})",
            "—",
            "—",
            "≤ 64 KB",
            _le(footprint["per_socket"], 64e3),
        )
    )
    starts_sorted = sorted(starts)
    rows.append(
        Row(
            LABELS["start"],
            f"{secs(footprint['start_seconds'])} (median of {len(starts)} starts: {secs(percentile(starts_sorted, 50))})",
            "—",
            "≈ 21 s",
            "≤ 2 s",
            _le(footprint["start_seconds"], 2.0),
        )
    )
    browser = page["browser"]
    if browser:
        kinds = ", ".join(f"{kind} {kb(size)}" for kind, size in sorted(browser["by_kind"].items()))
        rows.append(
            Row(
                LABELS["page_bytes"],
                f"{kb(browser['bytes'])} in {browser['requests']} requests ({kinds})",
                "—",
                "≈ 2.8 MiB, 237 requests",
                "≤ 200 KB",
                _le(browser["bytes"], 200e3),
            )
        )
        trouble = (
            f"; {browser['loads'] - browser['usable_loads']} loads never usable: {'; '.join(browser['errors'])[:300]}"
            if browser["errors"]
            else ""
        )
        rows.append(
            Row(
                LABELS["page_usable"],
                f"{ms(browser['usable_ms'] / 1000)} (in the page: {ms(browser['enabled_ms'] / 1000)}; "
                f"median of {browser['usable_loads']} cold loads{trouble})",
                "—",
                "≈ 3.2 s",
                "≤ 0.5 s",
                _le(browser["usable_ms"] / 1000, 0.5),
            )
        )
        frames = page.get("reply_frames")
        if frames:
            rows.append(
                Row(
                    LABELS["reply_frames"],
                    f"first {frames['edge']} frames: {ms(frames['first_median'] / 1000)} median, "
                    f"{ms(frames['first_p90'] / 1000)} p90; last {frames['edge']}: "
                    f"{ms(frames['last_median'] / 1000)} median, {ms(frames['last_p90'] / 1000)} p90 "
                    f"({num(frames['tokens'])}-token Markdown reply, {num(frames['frames'])} frames)",
                    "—",
                    "—",
                    "last ≤ 3 × first, ≤ 16 ms",
                    frames["last_median"] <= 3 * max(frames["first_median"], 0.1)
                    and frames["last_p90"] <= 16,
                )
            )
    else:
        for key in ("page_bytes", "page_usable", "reply_frames"):
            rows.append(Row(LABELS[key], "not measured: /usr/bin/chromium is missing", "—", "—", "—", None))
    rows.append(
        Row(
            LABELS["long"],
            f"{ms(page['long']['median'])} opened again, {ms(page['long']['first'])} the first time "
            f"({num(sizes.long_messages)} messages; page {kb(page['long']['bytes'])})",
            "—",
            "—",
            "≤ 300 ms",
            _le(page["long"]["median"], 0.300),
        )
    )
    admin = page["admin"]
    rows.append(
        Row(
            LABELS["admin"],
            f"{ms(admin['median'])}, {admin['queries']} queries ({admin['queries_small']} before the "
            f"{num(sizes.admin_conversations)} conversations / {num(sizes.admin_messages)} messages were added)",
            "—",
            "—",
            "≤ 300 ms, constant queries",
            None
            if math.isnan(admin["median"])
            else admin["median"] <= 0.300 and admin["queries"] == admin["queries_small"],
        )
    )
    api = relay["api"]
    failed = f", {len(api['failures'])} failed" if api["failures"] else ""
    rows.append(
        Row(
            LABELS["api_ttft"],
            f"+{ms(api['added_p50'])} median, +{ms(api['added_p99'])} p99 "
            f"(API {ms(api['ttft_p50'])} / {ms(api['ttft_p99'])}, n={api['n']}{failed})",
            f"{ms(api['direct_p50'])} / {ms(api['direct_p99'])}",
            "—",
            "—",
            None,
        )
    )
    api_ratio = api["rate"] / api["direct_rate"] if api["direct_rate"] else math.nan
    rows.append(
        Row(
            LABELS["api_throughput"],
            f"{num(api['rate'])} tokens/s = {api_ratio:.2f} × direct ({num(api['tokens'])} tokens)",
            f"{num(api['direct_rate'])} tokens/s",
            "—",
            "—",
            None,
        )
    )
    parts = []
    for entry in pool["rounds"]:
        cold, warm = entry["cold"], entry["warm"]
        parts.append(
            f"{entry['k']} at once: {us(cold['cpu_per_stream'])} CPU each, first line {ms(cold['first_p50'])} / "
            f"{ms(cold['first_p99'])}; again ({warm['reusable_before']} kept alive): {us(warm['cpu_per_stream'])}, "
            f"{ms(warm['first_p50'])} / {ms(warm['first_p99'])}"
        )
    keep = pool["keepalive"]
    parts.append(
        f"{keep['short']} streams ending while {keep['long']} run: {keep['idle_kept']} connections kept for reuse "
        f"(limit {POOL_LIMITS.max_keepalive_connections})"
    )
    rows.append(Row(LABELS["pool"], "; ".join(parts), "—", "—", "—", None))
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| figure | this app (relay) | direct / limit | Open WebUI 0.12.4 | target | met? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        met = "—" if row.met is None else ("yes" if row.met else "**no**")
        cells = [row.label, row.app, row.direct, row.reference, row.target, met]
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    return "\n".join(lines)
