"""Figure 6: the chat page in a real browser, a long conversation, and the admin's conversation list.

The browser is Debian's Chromium (/usr/bin/chromium) driven by Playwright; no
browser is downloaded. Each load uses a new browser context, so its cache is
cold. Server times are medians of plain HTTP GETs with a signed-in cookie.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from bench.servers import Site
from bench.stats import median

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
TIMEOUT_MS = 15_000

# Runs before the page's own scripts: notes (performance.now(), from navigation
# start) when the Message box is in the page, enabled and visible, and when the
# page's script has wired it (chat/main.js focuses it once it has started).
USABLE_PROBE = """
(() => {
  const marks = (window.__bench = {});
  const check = () => {
    const box = document.getElementById("message");
    if (!box) return false;
    if (!marks.enabled && !box.disabled && box.getClientRects().length) marks.enabled = performance.now();
    if (!marks.wired && marks.enabled && document.activeElement === box) marks.wired = performance.now();
    return !!marks.wired;
  };
  document.addEventListener("focusin", check, true);
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  const poll = () => { if (!check()) setTimeout(poll, 2); };
  poll();
})();
"""


def go_kind(url: str, content_type: str) -> str:
    path = url.split("?", 1)[0]
    if path.endswith(".js") or "javascript" in content_type:
        return "js"
    if path.endswith(".css") or "css" in content_type:
        return "css"
    if "html" in content_type:
        return "html"
    if "json" in content_type:
        return "json"
    return "other"


def _wait_for_marks(page: Any) -> dict[str, float]:
    """The probe's marks once the box is wired (polled: the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        marks = page.evaluate("window.__bench || {}")
        if marks.get("wired"):
            return marks
        time.sleep(0.01)
    raise RuntimeError("the Message box was not usable within the timeout")


def browser_loads(base_url: str, cookie: str, loads: int) -> dict[str, Any]:
    from playwright.sync_api import expect, sync_playwright

    samples, transfers, errors = [], [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(loads):
                context = browser.new_context()
                try:
                    sample, transfer = _cold_load(context, base_url, cookie, expect, errors)
                    transfers.append(transfer)
                    if sample is not None:
                        samples.append(sample)
                finally:
                    context.close()
        finally:
            browser.close()
    return {
        "usable_ms": median([sample["wired"] for sample in samples]),
        "enabled_ms": median([sample["enabled"] for sample in samples]),
        "dom_content_loaded_ms": median([sample["domContentLoaded"] for sample in samples]),
        "bytes": transfers[0]["bytes"],
        "requests": transfers[0]["requests"],
        "by_kind": transfers[0]["by_kind"],
        "errors": sorted(set(errors)),
        "loads": loads,
        "usable_loads": len(samples),
    }


def _cold_load(context: Any, base_url: str, cookie: str, expect: Any, errors: list[str]) -> tuple[Any, dict]:
    """One load with an empty cache: (the probe's marks, or None if never usable; what was transferred)."""
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
    context.add_init_script(USABLE_PROBE)
    page = context.new_page()
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on(
        "response",
        lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"),
    )
    page.goto(f"{base_url}/", wait_until="commit")
    sample = None
    try:
        expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_enabled(timeout=TIMEOUT_MS)
        marks = _wait_for_marks(page)
    except (AssertionError, RuntimeError) as exc:
        errors.append(f"not usable: {str(exc).splitlines()[0]}")
        marks = None
    try:
        page.wait_for_load_state("networkidle", timeout=5_000)
    except Exception:  # a request still open after 5 s: count what finished
        pass
    if marks is not None:
        navigation = page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd,"
            " load: n.loadEventEnd}; })()"
        )
        sample = {"enabled": marks["enabled"], "wired": marks["wired"], **navigation}
    by_kind: dict[str, int] = {}
    total = 0
    for request in finished:
        sizes = request.sizes()
        response = request.response()
        content_type = (response.headers.get("content-type", "") if response else "") or ""
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        kind = go_kind(request.url, content_type)
        by_kind[kind] = by_kind.get(kind, 0) + size
        total += size
    return sample, {"bytes": total, "requests": len(finished), "by_kind": by_kind}


def server_times(url: str, cookie: str, repeats: int) -> dict[str, Any]:
    """Median time of a signed-in GET (after one warm-up), the first GET's time, and the page's size."""
    times = []
    first = 0.0
    with httpx.Client(cookies={"sessionid": cookie}, timeout=60, trust_env=False) as client:
        for index in range(repeats + 1):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} answered {response.status_code}")
            if index:
                times.append(elapsed)
            else:
                first = elapsed
    return {"median": median(times), "first": first, "bytes": len(response.content), "n": len(times)}


def measure_page(site: Site, sizes: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    small_queries = site.helper("admin_queries", admin="admin")["queries"]
    started = time.perf_counter()
    site.helper("bulk", conversations=sizes.admin_conversations, messages=sizes.admin_messages)
    seed_seconds = time.perf_counter() - started
    large_queries = site.helper("admin_queries", admin="admin")["queries"]
    fake = site.start_fake(tokens=20, delay=0.0)
    worker = site.start_worker(fake, "page", count_writes=False)
    try:
        result: dict[str, Any] = {"seed_seconds": seed_seconds, "start_seconds": worker.start_seconds}
        if os.access(CHROMIUM, os.X_OK):
            result["browser"] = browser_loads(worker.url, seeded["sessions"]["page"], sizes.page_loads)
        else:
            result["browser"] = None
        long_id = seeded["sets"]["long"][0]
        result["long"] = server_times(
            f"{worker.url}/c/{long_id}/", seeded["sessions"]["page"], sizes.http_repeats
        )
        result["admin"] = server_times(
            f"{worker.url}/admin/conversations/conversation/", seeded["sessions"]["admin"], sizes.http_repeats
        )
        result["admin"]["queries"] = large_queries
        result["admin"]["queries_small"] = small_queries
        return result
    finally:
        site.stop(worker)
        site.stop(fake)
