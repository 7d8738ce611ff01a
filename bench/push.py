#!/usr/bin/env python
"""Live push latency: how long a cart change takes to reach the shopper's other open pages.

Run from the repository root (loopback only, bounded loops, under 5 minutes in all):

    .venv/bin/python bench/push.py              # all three measurements, targets PASS/FAIL
    .venv/bin/python bench/push.py --trace      # also: where the time goes, inside the server
    .venv/bin/python bench/push.py --page-profile   # also: where B's page spends a push
    .venv/bin/python bench/push.py --one-instance --repeat 7   # phase 1 seven times: medians
    .venv/bin/python bench/push.py --strict     # exit 1 if a target fails

    .venv/bin/python bench/push.py --fallback   # also phase 1 over SSE and long polls
    .venv/bin/python bench/push.py --fallback --one-instance   # phase 1, 1b and 1c only

What it measures (see docs/PERFORMANCE.md, "Live push latency"), each next to a baseline
taken in the same run:

1. Browser to browser, one instance: gunicorn (``python -m gunicorn wsgi:app``) on a fresh
   SQLite file after ``db upgrade`` and ``demo``. Two Playwright contexts of headless Debian
   Chromium are two devices of one guest shopper (B gets A's storage state after A's first
   page load). A is on a product page, B on /cart, both with sync-status ``connected``. For
   each sample A clicks "Add to cart": a capturing ``click`` listener in A stamps
   ``performance.timeOrigin + performance.now()``; a MutationObserver in B stamps the moment
   the text of ``#cart-count`` changes. Latency = B stamp - A stamp (one machine, one clock).
   Baseline: the same click to A's *own* badge change (its request/response round trip, or
   the echo of its own push if that comes first). Each sample waits until both badges show the
   new count and A's form is idle again before the next click. Floor, right after: the same
   click and badge through a bare relay (``bench/http_apps.py:relay_app``: an XHR to Flask
   under gunicorn with this config and 1 worker, handed to B's flask-sock socket, B sets the
   count), so the shop's own share of a push is the difference.
2. The same across two instances: two gunicorn processes (``-w 1`` each) on two ports sharing a
   fresh PostgreSQL database (uniquely named, dropped at the end) and Redis
   (``STOREFRONT_REDIS_URL``, a unique ``STOREFRONT_REDIS_PREFIX``; its keys are deleted at the
   end), one secret and one set of keys. A is on instance 1, B on instance 2.
1b, 1c (``--fallback``): phase 1 again with B's WebSocket blocked by Playwright's routing
   (each socket closed before the server's first message, as a blocking proxy does), so that
   B's page falls back by itself: to Server-Sent Events (1b), and with /live/events refused
   too, to long polls (1c). The same A and baseline; then the three side by side.
3. Fan-out on one instance (SQLite, one gunicorn worker): 1,000 other guests each hold a
   WebSocket (simple_websocket), and one shopper holds 3. 100 times: POST /api/v1/cart/lines
   for that shopper; for each of its 3 sockets, time from just before sending the POST to
   receiving the event that carries the new ``data-cart-version``. Baseline: the same with no
   other sockets open. Also the worker's RSS and thread count from /proc.

Targets: browser-to-browser p99 <= 100 ms on one instance, <= 150 ms across instances; and
issue 10's: p50 <= 10 ms and p95 <= 25 ms on one instance, p95 <= 35 ms across two.

Percentiles are nearest-rank (p99 of 100 samples is the 99th smallest). The first WARMUP
samples of every series are taken and thrown away. The machine (platform, CPUs, Python) and the
load average at start and end are printed; if the 1-minute load average is above 1.5 at
start the run waits up to 3 minutes for it to drop (``--no-wait`` skips that), and says so.
The wait is cut short (to about 165 s) so that the whole run stays under 5 minutes: the
measuring takes 75-110 s on a loaded 2-CPU machine. Phase 3's own 2,000 client and server
threads push the load average up for a minute afterwards (the "at end" figure).

``--trace`` serves ``bench.push:traced_app()`` instead of ``wsgi:app``: the same app, with
timestamps written by the server process (one JSON line each, O_APPEND) at request start and
end (plus the serving thread's CPU time), around the steps of a cart change (catalog look-up,
``store.write``, ``view_change``, ``names_for``, the change's fragment and notice,
``broker.publish``), at registry delivery and at each WebSocket send; the bench joins them with
the browser's stamps by cart version and prints p50 / p99 of each step. Off by default, so the
headline figures come from the unmodified app. Nothing under storefront/ is changed: the
hooks replace module attributes inside the server process only.

``--repeat N`` runs phase 1's series N times in all (the same server and browser, new pages
each time) and prints each series' p50 / p95 / p99 and their medians; the one-instance
targets are then judged on the medians. One series' p50 moves by half a millisecond from run
to run on the same machine (session 26: 9.7 to 11.2 ms over ten runs), which is as much as a
target on the line can tell apart.

``--page-profile`` runs phase 1's series once more, after the measured one, with Chromium's
sampling profiler on B's page (through the DevTools protocol, every 20 us), and prints the
functions B's main thread spends a pushed message in: inclusive CPU time per message, over the
samples whose stack passes through the ws extension's message listener. The profiler slows the
page, so that series' latencies are not reported.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import itertools
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the browser tests' server helpers
    sys.path.insert(0, str(ROOT))
from bench.common import (  # noqa: E402
    POSTGRES_ADMIN,
    REDIS_URL,
    cpu_model,
    drop_database,
    forget_redis_keys,
    lift_open_file_limit,
    yardstick,
)
from e2e.processes import CHROMIUM_ARGS, Gunicorn, flask_cli  # noqa: E402

CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

SAMPLES = 100
WARMUP = 3
OTHERS = 1_000
DEVICES = 3
TARGET_ONE_MS = 100.0
# Issue 10: p50 <= 10 ms and p95 <= 25 ms on one instance; p95 <= 35 ms across two.
ISSUE_10_TARGETS = {"one": [(50, 10.0), (95, 25.0)], "two": [(95, 35.0)]}
TARGET_TWO_MS = 150.0
LOAD_LIMIT = 1.5
LOAD_WAIT_S = 180.0
# The measuring itself took 95-110 s on a loaded 2-CPU machine; the wait is cut short so that
# the whole run stays under 5 minutes.
RUN_BUDGET_S = 290.0
MEASURING_S = 125.0
WAIT_MS = 10_000  # any single wait in the browser gives up after this
PROFILE_INTERVAL_US = 20  # --page-profile's sampling interval
# B's frames that handle a pushed message: the ws extension's listener and what it calls.
PUSH_HANDLER = "htmx-ext-ws"
FALLBACK_MS = 30_000  # a page whose socket is blocked falls back within 15 s (more, loaded)
SKU_PHASE1 = "DEMO-0101"  # 0001-0020 have options; these have none
SKU_PHASE2 = "DEMO-0102"
SKU_FANOUT = "DEMO-0103"
VERSION = re.compile(r'id="cart-state"[^>]*?data-cart-version="(\d+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


STARTED = time.monotonic()


def at() -> str:
    return f"[{time.monotonic() - STARTED:.0f} s into the run, load average {loadavg()[0]:.2f}]"


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50):7.1f}  p90 {pct(values, 90):7.1f}  p95 {pct(values, 95):7.1f}  "
        f"p99 {pct(values, 99):7.1f}  "
        f"max {max(values):7.1f} ms  (n={len(values)})"
    )


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


# --- servers ----------------------------------------------------------------------------------


def base_env(extra: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STOREFRONT_") and k not in ("BENCH_TRACE_FILE",)
    }
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "STOREFRONT_CART_RATE_LIMIT": "100000/second",
        }
    )
    env.update(extra)
    return env


# --- tracing inside the server (--trace) ------------------------------------------------------


def traced_app():
    """gunicorn factory (``bench.push:traced_app()``): ``wsgi.app`` with timestamps appended,
    one JSON line each, to $BENCH_TRACE_FILE. Only used with --trace."""
    import importlib

    import simple_websocket

    import wsgi

    # (``storefront.realtime.broker`` the attribute is a function; the module is in sys.modules.)
    broker_module = importlib.import_module("storefront.realtime.broker")
    registry_module = importlib.import_module("storefront.realtime.registry")

    path = os.environ["BENCH_TRACE_FILE"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    pid = os.getpid()
    local = threading.local()

    def record(**fields) -> None:
        fields["pid"] = pid
        os.write(fd, (json.dumps(fields) + "\n").encode())

    def version_of(html) -> int | None:
        match = VERSION.search(html) if isinstance(html, str) else None
        return int(match.group(1)) if match else None

    app = wsgi.app
    inner = app.wsgi_app

    def mark(label: str) -> None:
        marks = getattr(local, "marks", None)
        if marks is not None:
            marks.append((label, time.time()))

    def middleware(environ, start_response):
        traced = environ.get("REQUEST_METHOD") == "POST" and "/cart/lines" in environ.get(
            "PATH_INFO", ""
        )
        local.start = time.time() if traced else None
        local.marks = [("request start", local.start)] if traced else None
        local.version = None
        cpu = time.thread_time()
        body = inner(environ, start_response)
        if not traced:
            return body
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        end = time.time()
        mark("response end")
        record(
            kind="response",
            v=local.version,
            start=local.start,
            end=end,
            cpu=time.thread_time() - cpu,
            marks=local.marks,
        )
        local.marks = None
        return chunks

    app.wsgi_app = middleware

    def wrap(owner, name: str, label: str) -> None:
        is_dict = isinstance(owner, dict)
        original = owner[name] if is_dict else getattr(owner, name)

        def wrapper(*args, **kwargs):
            mark(f"{label} start")
            try:
                return original(*args, **kwargs)
            finally:
                mark(f"{label} end")

        if is_dict:
            owner[name] = wrapper
        else:
            setattr(owner, name, wrapper)

    # What a cart change does between request start and publish, step by step. Each is looked up
    # by its callers as a module attribute, so replacing the attribute is enough.
    for endpoint in ("cart.add", "api.add_line"):
        if endpoint in app.view_functions:
            wrap(app.view_functions, endpoint, "view")
    store = importlib.import_module("storefront.cart.store")
    views = importlib.import_module("storefront.cart.views")
    announce = importlib.import_module("storefront.cart.announce")
    catalog = importlib.import_module("storefront.catalog.services")
    wrap(catalog, "by_sku", "catalog.by_sku")
    wrap(store, "write", "store.write")
    wrap(views, "view_change", "view_change")
    wrap(views, "names_for", "names_for")
    wrap(announce, "_fragment", "fragment")
    wrap(announce, "_notice_elsewhere", "notice_elsewhere")

    def wrap_publish(cls):
        original = cls.publish

        def publish(self, channel, envelope):
            version = version_of(envelope.get("html"))
            local.version = version
            before = time.time()
            mark("broker.publish start")
            original(self, channel, envelope)
            mark("broker.publish end")
            record(
                kind="publish",
                v=version,
                start=getattr(local, "start", None),
                publish=before,
                published=time.time(),
            )

        cls.publish = publish

    wrap_publish(importlib.import_module("storefront.realtime.siblings").SiblingsBroker)
    wrap_publish(broker_module.RedisBroker)

    original_deliver = registry_module.Registry.deliver

    def deliver(self, channel, envelope):
        version = version_of(envelope.get("html"))
        before = time.time()
        count = original_deliver(self, channel, envelope)
        if version is not None:
            record(kind="deliver", v=version, deliver=before, members=count)
        return count

    registry_module.Registry.deliver = deliver

    original_send = simple_websocket.Server.send

    def send(self, data):
        version = version_of(data)
        before = time.time()
        original_send(self, data)
        if version is not None:
            record(kind="send", v=version, send=before, sent=time.time())

    simple_websocket.Server.send = send
    return app


def request_steps(trace: list[dict], versions: set[int] | None = None) -> None:
    """Medians of the steps inside the server for traced cart requests: the interval between
    each pair of consecutive marks, and the serving thread's CPU time against its wall time."""
    steps: dict[str, list[float]] = {}
    wall, cpu = [], []
    for rec in trace:
        if rec["kind"] != "response" or (versions is not None and rec["v"] not in versions):
            continue
        # A step that runs twice in one request (catalog.by_sku: before the write, and again
        # for the htmx answer) is named "#2" the second time.
        marks, seen = [], {}
        for label, t in rec["marks"]:
            base, _, edge = label.rpartition(" ")
            if edge == "start":
                seen[base] = seen.get(base, 0) + 1
            n = seen.get(base, 1)
            marks.append(
                (f"{base} #{n} {edge}" if n > 1 and edge in ("start", "end") else label, t)
            )
        for (a, ta), (b, tb) in itertools.pairwise(marks):
            same = a.endswith(" start") and b == a[: -len(" start")] + " end"
            name = a[: -len(" start")] if same else f"{a} -> {b}"
            steps.setdefault(name, []).append((tb - ta) * 1000)
        wall.append((rec["end"] - rec["start"]) * 1000)
        cpu.append(rec["cpu"] * 1000)
    if not wall:
        return
    print(f"  inside the server, per cart request (--trace, p50 / p99 ms over {len(wall)}):")
    for name, values in steps.items():
        print(f"    {name:<58} {pct(values, 50):7.2f} / {pct(values, 99):7.2f}")
    print(
        f"    {'wall time, request start -> response end':<58} {pct(wall, 50):7.2f} / "
        f"{pct(wall, 99):7.2f}"
    )
    print(f"    {'CPU time of the serving thread':<58} {pct(cpu, 50):7.2f} / {pct(cpu, 99):7.2f}")


def read_trace(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --- the browser ------------------------------------------------------------------------------

INSTRUMENT = """
() => {
  const now = () => performance.timeOrigin + performance.now();
  const w = window.__bench = {clicks: [], badge: [], ws: [], xhr: [], sent: []};
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    w.sent.push(now());
    return send.apply(this, args);
  };
  window.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('[data-testid="add-to-cart"]')) {
      w.clicks.push(now());
    }
  }, true);
  let last = document.getElementById('cart-count').textContent.trim();
  new MutationObserver(() => {
    const t = now();
    const el = document.getElementById('cart-count');
    const text = el ? el.textContent.trim() : '';
    if (text !== last) { last = text; w.badge.push([text, t]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  // Captured on the window: before the page's own listeners, which may apply the message.
  window.addEventListener('htmx:wsBeforeMessage', (e) => {
    const m = /id="cart-state"[^>]*?data-cart-version="(\\d+)"/.exec(e.detail.message);
    if (m) w.ws.push([Number(m[1]), now()]);
  }, true);
  document.addEventListener('htmx:afterRequest', () => { w.xhr.push(now()); });
}
"""
# Each page's performance clock against the wall clock, read just as Date.now() ticks over (its
# whole milliseconds would otherwise round the offset by up to 1 ms): the median of 15 ticks.
CLOCK = """() => {
  const offsets = [];
  for (let i = 0; i < 15; i++) {
    const before = Date.now();
    let now;
    while ((now = Date.now()) === before) {}
    offsets.push(performance.timeOrigin + performance.now() - now);
  }
  return offsets.sort((x, y) => x - y)[7];
}"""
# Waits for a badge's text inside the page, woken by its mutations: Playwright's expect()
# polls the page's DOM meanwhile (and computes an ARIA snapshot of it while the text is not
# there yet: 0.75 ms a sample of B's main thread in Chromium's profiler), work on the very
# thread that must apply the push, which no shopper's page does.
BADGE_SAYS = """([text, ms]) => new Promise((resolve, reject) => {
  const says = () => {
    const el = document.querySelector('[data-testid="cart-count"]');
    return el !== null && el.textContent.trim() === text;
  };
  if (says()) return resolve(true);
  const watch = new MutationObserver(() => {
    if (!says()) return;
    watch.disconnect(); clearTimeout(timer); resolve(true);
  });
  watch.observe(document.body, {subtree: true, childList: true, characterData: true});
  const timer = setTimeout(() => { watch.disconnect(); reject(new Error(`the badge never said ${text}`)); }, ms);
})"""


def badge_says(page, text: str) -> None:
    page.evaluate(BADGE_SAYS, [text, WAIT_MS])


def block_live(context, transport: str) -> None:
    """B's network as some proxies make it: /ws turned away (each socket closed before the
    server's first message), and for "poll" Server-Sent Events refused too."""
    context.route_web_socket(re.compile(r"/ws$"), lambda ws: ws.close(code=1013))
    if transport == "poll":
        context.route("**/live/events", lambda route: route.abort("connectionrefused"))


def browser_series(
    browser,
    url_a: str,
    url_b: str,
    sku: str,
    samples: int,
    transport: str = "socket",
    profile_b: bool = False,
) -> dict:
    """A (on url_a) clicks add-to-cart ``samples + WARMUP`` times on a product page; B (on
    url_b) has /cart open, hearing over ``transport``: "socket" (/ws), "sse" or "poll" (its
    socket blocked: the page's fallback). Returns per-sample stamps (epoch ms), warm-up
    dropped; with ``profile_b`` also Chromium's CPU profile of B's page over the samples."""
    from playwright.sync_api import expect

    ctx_a = browser.new_context(base_url=url_a)
    ctx_a.set_default_timeout(WAIT_MS)
    a = ctx_a.new_page()
    a.goto(f"/products/{sku}")
    ctx_b = browser.new_context(base_url=url_b, storage_state=ctx_a.storage_state())
    ctx_b.set_default_timeout(WAIT_MS)
    live_requests: list[str] = []
    if transport != "socket":
        block_live(ctx_b, transport)
        ctx_b.on("request", lambda r: live_requests.append(r.url) if "/live/" in r.url else None)
    b = ctx_b.new_page()
    b.goto("/cart")
    try:
        for page, state in (
            (a, "connected"),
            (b, "connected" if transport == "socket" else "fallback"),
        ):
            expect(page.get_by_test_id("sync-status")).to_have_attribute(
                "data-state", state, timeout=FALLBACK_MS
            )
            page.evaluate(INSTRUMENT)
        if transport != "socket":  # the fallback B is on is the one meant
            wanted = "/live/events" if transport == "sse" else "/live/poll"
            assert live_requests and wanted in live_requests[-1], (transport, live_requests)
        start_count = int(a.get_by_test_id("cart-count").inner_text())
        start_version = int(a.locator("#cart-state").get_attribute("data-cart-version"))
        total = WARMUP + samples
        profiler = ctx_b.new_cdp_session(b) if profile_b else None
        for i in range(total):
            if profiler is not None and i == WARMUP:
                profiler.send("Profiler.enable")
                profiler.send("Profiler.setSamplingInterval", {"interval": PROFILE_INTERVAL_US})
                profiler.send("Profiler.start")
            expected = str(start_count + i + 1)
            a.get_by_test_id("add-to-cart").click()
            badge_says(a, expected)
            badge_says(b, expected)
            # The form stays; wait until its request is done and its quantity is back to 1.
            a.wait_for_function(
                "() => { const f = document.getElementById('add-form');"
                " return !f.classList.contains('htmx-request')"
                " && f.querySelector('[name=quantity]').value === '1'; }",
                timeout=WAIT_MS,
            )
        # The wall-clock offset of each page's performance clock: equal offsets mean the two
        # pages' stamps are on one clock.
        profile = profiler.send("Profiler.stop")["profile"] if profiler is not None else None
        skew = [page.evaluate(CLOCK) for page in (a, b)]
        data_a = a.evaluate("() => window.__bench")
        data_b = b.evaluate("() => window.__bench")
        assert a.url.endswith(f"/products/{sku}") and b.url.endswith("/cart"), "a page navigated"
    finally:
        ctx_a.close()
        ctx_b.close()
    rows = []
    for i in range(total):
        expected = str(start_count + i + 1)
        version = start_version + i + 1
        click = data_a["clicks"][i]
        row = {
            "version": version,
            "click": click,
            "b_badge": next(t for text, t in data_b["badge"] if text == expected),
            "a_badge": next(t for text, t in data_a["badge"] if text == expected),
            "a_xhr": next((t for t in data_a["xhr"] if t >= click), None),
            "a_sent": next((t for t in data_a["sent"] if t >= click), None),
            "a_ws": next((t for v, t in data_a["ws"] if v == version), None),
            "b_ws": next((t for v, t in data_b["ws"] if v == version), None),
        }
        rows.append(row)
    assert len(data_a["clicks"]) == total, f"{len(data_a['clicks'])} clicks seen, {total} made"
    return {
        "rows": rows[WARMUP:],
        "clock_offset_diff_ms": abs(skew[0] - skew[1]),
        "b_profile": profile,
    }


def page_profile(profile: dict, messages: int, top: int = 18) -> None:
    """Where B's main thread spends a pushed message, from Chromium's sampling profiler: each
    function's inclusive CPU time per message, over the samples whose stack passes through
    the ws extension's message listener (the time from its wsBeforeMessage to the badge)."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}

    def frames(node_id):
        while node_id is not None:
            frame = nodes[node_id]["callFrame"]
            where = frame["url"].rsplit("/", 1)[-1]
            line = f":{frame['lineNumber'] + 1}" if where else ""
            yield f"{frame['functionName'] or '(anonymous)'} ({where or 'native'}{line})"
            node_id = parent.get(node_id)

    inclusive: dict[str, float] = {}
    handled = 0.0
    deltas = [*profile["timeDeltas"][1:], 0]
    for node_id, delta in zip(profile["samples"], deltas, strict=True):
        stack = list(frames(node_id))
        if not any(PUSH_HANDLER in frame for frame in stack):
            continue
        handled += delta
        for frame in set(stack) - {"(root) (native)"}:
            inclusive[frame] = inclusive.get(frame, 0.0) + delta
    per_message = 1000.0 * messages
    print(
        f"  B's main thread per pushed message (--page-profile: Chromium's sampling profiler "
        f"every {PROFILE_INTERVAL_US} us,\n  a series of its own after the measured one; "
        f"inclusive ms per message over {messages}): {handled / per_message:.2f} ms in all"
    )
    for frame, spent in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        print(f"    {spent / per_message:6.3f}  {frame}")


def relay_series(browser, url: str, samples: int) -> dict[str, list[float]]:
    """The floor under phase 1 (``bench/http_apps.py:relay_app``): the same click in A to the
    same badge change in B, through Chromium's XHR, gunicorn, flask-sock and a WebSocket, with
    nothing of the shop's. Returns per sample (ms, warm-up dropped) A click -> B badge
    ("push"), and A's XHR sent -> the request reaching the app ("arrival")."""

    contexts = [browser.new_context(base_url=url) for _ in range(2)]
    try:
        a, b = (context.new_page() for context in contexts)
        for page in (a, b):
            page.goto("/")
            page.wait_for_function("() => document.body.dataset.connected === '1'")
            page.evaluate(INSTRUMENT)
        start = int(a.get_by_test_id("cart-count").inner_text())
        for i in range(WARMUP + samples):
            expected = str(start + i + 1)
            a.get_by_test_id("add-to-cart").click()
            badge_says(b, expected)
            badge_says(a, expected)
        data_a = a.evaluate("() => window.__bench")
        data_b = b.evaluate("() => window.__bench")
        arrived = a.evaluate("() => fetch('/arrivals').then((r) => r.json())")
    finally:
        for context in contexts:
            context.close()
    clicks, sent = data_a["clicks"], data_a["sent"]
    total = WARMUP + samples
    assert len(clicks) == len(sent) == len(arrived) == total, (len(clicks), len(sent))
    badge = dict(data_b["badge"])
    kept = range(WARMUP, total)
    return {
        "push": [badge[str(start + i + 1)] - clicks[i] for i in kept],
        "arrival": [arrived[i] * 1000 - sent[i] for i in kept],
    }


# Phase 1 again with B's socket blocked (``--fallback``): results key, transport, in words.
FALLBACKS = (
    ("one_1b", "sse", "Server-Sent Events (/live/events)"),
    ("one_1c", "poll", "long polls (/live/poll), SSE refused too"),
)


def compare_transports(results: dict) -> None:
    """The three ways B hears A's change, side by side (same run, same server, same SKU)."""
    print(f"\nPush latency by transport, one instance {at()}")
    print(f"  {'transport':<28} {'p50':>8} {'p95':>8} {'p99':>8}   (A click -> B badge, ms)")
    for key, words in (("one", "WebSocket (/ws)"), *((k, w) for k, _, w in FALLBACKS)):
        push = results[key]["push"]
        print(
            f"  {words.split(' (')[0]:<28} {pct(push, 50):8.1f} {pct(push, 95):8.1f} "
            f"{pct(push, 99):8.1f}"
        )


def click_to_b_badge(rows: list[dict]) -> list[float]:
    """Each sample's push latency: A's click to B's badge, in ms."""
    return [r["b_badge"] - r["click"] for r in rows]


def repeated_series(browser, url: str, samples: int, repeat: int, first: list[float]) -> list:
    """Phase 1's series ``repeat`` times in all (``first`` is the one already measured): each
    series' A click -> B badge times, after printing every series' percentiles and their
    medians."""
    series = [first]
    for _ in range(repeat - 1):
        rows = browser_series(browser, url, url, SKU_PHASE1, samples)["rows"]
        series.append(click_to_b_badge(rows))
    print(f"\n1r. Phase 1's series {repeat} times (A click -> B badge, ms) {at()}")
    for n, pushes in enumerate(series, 1):
        print(f"  series {n:>2}: " + "  ".join(f"p{p} {pct(pushes, p):5.1f}" for p in (50, 95, 99)))
    print(
        "  median:    "
        + "  ".join(
            f"p{p} {statistics.median(pct(pushes, p) for pushes in series):5.1f}"
            for p in (50, 95, 99)
        )
    )
    return series


def report_browser(title: str, result: dict) -> dict:
    rows = result["rows"]
    push = click_to_b_badge(rows)
    own = [r["a_badge"] - r["click"] for r in rows]
    xhr = [r["a_xhr"] - r["click"] for r in rows if r["a_xhr"] is not None]
    b_handle = [r["b_badge"] - r["b_ws"] for r in rows if r["b_ws"] is not None]
    echo_first = sum(
        1
        for r in rows
        if r["a_ws"] is not None and r["a_xhr"] is not None and r["a_ws"] < r["a_xhr"]
    )
    b_before_a = sum(1 for p, o in zip(push, own, strict=True) if p < o)
    print(f"\n{title} {at()}")
    print(f"  A click -> B badge (push)         {summary(push)}")
    print(f"  baseline A click -> A own badge   {summary(own)}")
    print(f"  (A click -> A response handled    {summary(xhr)})")
    if b_handle:  # the htmx ws extension's event: not on the fallback
        print(f"  (B message in -> B badge changed  {summary(b_handle)})")
    print(
        f"  A's own push echo arrived before its response in {echo_first}/{len(rows)} samples;"
        f" B's badge changed before A's in {b_before_a}/{len(rows)}"
    )
    print(
        f"  clock check: the two pages' performance clocks differ by "
        f"{result['clock_offset_diff_ms']:.2f} ms against the wall clock (read as Date.now() ticks)"
    )
    return {"push": push, "own": own}


def trace_breakdown(title: str, rows: list[dict], trace: list[dict]) -> None:
    """Median of each step of a push, joining browser stamps (ms) and server stamps (s) on the
    cart version."""
    by = {}
    for rec in trace:
        by.setdefault((rec["kind"], rec["v"]), []).append(rec)
    steps = {
        k: []
        for k in (
            "click -> server request start",
            "  click -> A's XHR sent (htmx, the page's scripts)",
            "  XHR sent -> request start (loopback, gunicorn)",
            "request start -> publish (commit, render)",
            "publish call (broker.publish itself)",
            "publish -> delivered to B's process registry",
            "delivered -> B's socket send starts (socket thread wakes)",
            "B's socket send (ws.send)",
            "socket sent -> B page receives message",
            "B message -> B badge changed",
            "request start -> response end (server)",
            "response end -> A response handled",
        )
    }
    for r in rows:
        v = r["version"]
        pub = (by.get(("publish", v)) or [None])[0]
        resp = (by.get(("response", v)) or [None])[0]
        delivers = by.get(("deliver", v), [])
        sends = by.get(("send", v), [])
        if not pub or not resp or not sends or not delivers:
            continue
        # B's socket is the last send of this version (A's echo is another); pick the send
        # whose end is closest before B's message arrival.
        if r["b_ws"] is None:
            continue
        candidates = [s for s in sends if s["sent"] * 1000 <= r["b_ws"] + 1]
        send = max(candidates, key=lambda s: s["sent"]) if candidates else sends[-1]
        deliver = next((d for d in delivers if d["pid"] == send["pid"]), delivers[0])
        ms = lambda s: s * 1000  # noqa: E731
        steps["click -> server request start"].append(ms(resp["start"]) - r["click"])
        if r["a_sent"] is not None:
            steps["  click -> A's XHR sent (htmx, the page's scripts)"].append(
                r["a_sent"] - r["click"]
            )
            steps["  XHR sent -> request start (loopback, gunicorn)"].append(
                ms(resp["start"]) - r["a_sent"]
            )
        steps["request start -> publish (commit, render)"].append(
            ms(pub["publish"] - resp["start"])
        )
        steps["publish call (broker.publish itself)"].append(ms(pub["published"] - pub["publish"]))
        steps["publish -> delivered to B's process registry"].append(
            ms(deliver["deliver"] - pub["publish"])
        )
        steps["delivered -> B's socket send starts (socket thread wakes)"].append(
            ms(send["send"] - deliver["deliver"])
        )
        steps["B's socket send (ws.send)"].append(ms(send["sent"] - send["send"]))
        steps["socket sent -> B page receives message"].append(r["b_ws"] - ms(send["sent"]))
        steps["B message -> B badge changed"].append(r["b_badge"] - r["b_ws"])
        steps["request start -> response end (server)"].append(ms(resp["end"] - resp["start"]))
        if r["a_xhr"] is not None:
            steps["response end -> A response handled"].append(r["a_xhr"] - ms(resp["end"]))
    print(
        f"  where the time goes ({title}; --trace, p50 / p99 ms over "
        f"{len(steps['click -> server request start'])} samples):"
    )
    for name, values in steps.items():
        if values:
            print(f"    {name:<58} {pct(values, 50):7.2f} / {pct(values, 99):7.2f}")
    request_steps(trace, {r["version"] for r in rows})


# --- fan-out over raw WebSockets --------------------------------------------------------------


def cookies_from(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def http_get(port: int, path: str, jar: dict[str, str]) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Cookie": cookie_header(jar)} if jar else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode()
        cookies_from(response, jar)
        return response.status, dict(response.getheaders()), body
    finally:
        conn.close()


def open_socket(port: int, jar: dict[str, str]):
    import simple_websocket

    return simple_websocket.Client.connect(
        f"ws://127.0.0.1:{port}/ws",
        headers={"Origin": "http://127.0.0.1", "Cookie": cookie_header(jar)},
    )


class Listener:
    """Reads one socket in its own thread; stamps (perf_counter) each cart-version event."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: dict[int, float] = {}
        self.cond = threading.Condition()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                message = self.ws.receive(timeout=0.5)
            except Exception:
                return
            stamp = time.perf_counter()
            if message is None:
                continue
            match = VERSION.search(message) if isinstance(message, str) else None
            if match is None:
                continue
            with self.cond:
                self.seen.setdefault(int(match.group(1)), stamp)
                self.cond.notify_all()

    def wait(self, version: int, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while version not in self.seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"version {version} never arrived on a shopper socket")
                self.cond.wait(left)
            return self.seen[version]


def fanout_series(
    port: int, jar: dict, csrf: str, listeners: list[Listener], samples: int, start_version: int
) -> tuple[list[float], list[float], int]:
    deliveries, responses = [], []
    body = json.dumps({"sku": SKU_FANOUT, "quantity": 1})
    version = start_version
    for i in range(WARMUP + samples):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        headers = {
            "Content-Type": "application/json",
            "Cookie": cookie_header(jar),
            "X-CSRF-Token": csrf,
        }
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/cart/lines", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        t_resp = time.perf_counter()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"POST /api/v1/cart/lines: HTTP {response.status} {payload[:300]}")
        cookies_from(response, jar)
        version = json.loads(payload)["version"]
        stamps = [listener.wait(version) for listener in listeners]
        if i >= WARMUP:
            responses.append((t_resp - t0) * 1000)
            deliveries.extend((s - t0) * 1000 for s in stamps)
    return deliveries, responses, version


def worker_stats(server: Gunicorn) -> str:
    parts = []
    for pid in server.worker_pids():
        status = proc_status(pid)
        rss_mb = int(status["VmRSS"].split()[0]) / 1024
        parts.append(f"worker {pid}: RSS {rss_mb:.0f} MB, {status['Threads']} threads")
    return "; ".join(parts) or "(no worker found)"


def phase_fanout(server: Gunicorn, samples: int, others: int, trace_path: Path | None) -> dict:
    port = server.port
    jar: dict[str, str] = {}
    status, _, page = http_get(port, "/", jar)
    assert status == 200, f"GET /: HTTP {status}"
    csrf = CSRF_META.search(page).group(1)
    sockets = [open_socket(port, jar) for _ in range(DEVICES)]
    listeners = [Listener(ws) for ws in sockets]
    # The hello of each socket names the current version; the first change is version + 1.
    version = int(json.loads(http_get(port, "/api/v1/cart", jar)[2])["version"])
    time.sleep(0.2)  # let the hellos land (they carry no cart-state, so they are ignored)
    print(
        "\n3. Fan-out to one shopper's 3 sockets, one instance (SQLite, workers as gunicorn.conf.py gives): "
        f"POST /api/v1/cart/lines -> event on each socket {at()}"
    )
    idle = worker_stats(server)
    v0 = version
    base, base_resp, version = fanout_series(port, jar, csrf, listeners, samples, version)
    v1 = version
    print(f"  baseline, 0 other sockets:         {summary(base)}")
    print(f"    (POST answered:                  {summary(base_resp)})")
    print(f"    server before: {idle}")
    print(f"    server after:  {worker_stats(server)}")

    # 1,000 other guests: a cookie each (any GET that touches the session sets one), then a socket.
    t_open = time.monotonic()

    def guest(_):
        own: dict[str, str] = {}
        got, _, _ = http_get(port, "/api/v1/cart", own)
        assert got == 200 and own, "a guest got no cookie"
        return open_socket(port, own)

    with ThreadPoolExecutor(max_workers=8) as pool:
        crowd = list(pool.map(guest, range(others)))
    opened = time.monotonic() - t_open
    time.sleep(1.0)  # let the server settle after the burst of handshakes
    loaded_before = worker_stats(server)
    loaded, loaded_resp, version = fanout_series(port, jar, csrf, listeners, samples, version)
    v2 = version
    still_open = sum(1 for ws in crowd if ws.connected)
    print(f"  with {others:,} other sockets open:   {summary(loaded)}")
    print(f"    (POST answered:                  {summary(loaded_resp)})")
    print(
        f"    opened {others:,} guest cookies + sockets in {opened:.1f} s; "
        f"{still_open:,} still open after the series"
    )
    print(f"    server with {others:,} open: {loaded_before}")
    print(f"    server after series:  {worker_stats(server)}")
    for listener in listeners:
        listener.stop = True
    for ws in [*sockets, *crowd]:
        with contextlib.suppress(Exception):
            ws.close()
    if trace_path is not None:
        trace = read_trace(trace_path)
        for label, versions in (
            ("0 other sockets", set(range(v0 + WARMUP + 1, v1 + 1))),
            (f"{others:,} other sockets", set(range(v1 + WARMUP + 1, v2 + 1))),
        ):
            pubs = {r["v"]: r for r in trace if r["kind"] == "publish" and r["v"] in versions}
            sends = [r for r in trace if r["kind"] == "send" and r["v"] in pubs]
            delivers = [r for r in trace if r["kind"] == "deliver" and r["v"] in pubs]
            to_send = [(s["sent"] - pubs[s["v"]]["publish"]) * 1000 for s in sends]
            to_deliver = [(d["deliver"] - pubs[d["v"]]["publish"]) * 1000 for d in delivers]
            print(
                f"  --trace, {label}: publish -> registry delivery p50 {pct(to_deliver, 50):.2f}"
                f" ms; publish -> each socket's send done p50 {pct(to_send, 50):.2f} "
                f"p99 {pct(to_send, 99):.2f} ms ({len(to_send)} sends)"
            )
            request_steps(trace, versions)
    return {"base": base, "loaded": loaded}


# --- the run ----------------------------------------------------------------------------------


def wait_for_quiet(no_wait: bool) -> str:
    one = loadavg()[0]
    if one <= LOAD_LIMIT:
        return f"load average {one:.2f} <= {LOAD_LIMIT} at start: no wait"
    if no_wait:
        return f"load average {one:.2f} > {LOAD_LIMIT} at start; --no-wait: measured anyway"
    print(
        f"load average {one:.2f} > {LOAD_LIMIT}: waiting up to {LOAD_WAIT_S:.0f} s for it to drop",
        flush=True,
    )
    started = time.monotonic()
    limit = min(LOAD_WAIT_S, RUN_BUDGET_S - MEASURING_S - (started - STARTED))
    while time.monotonic() - started < limit:
        time.sleep(5)
        one = loadavg()[0]
        if one <= LOAD_LIMIT:
            return f"load average dropped to {one:.2f} after {time.monotonic() - started:.0f} s"
    return (
        f"load average still {one:.2f} after waiting {time.monotonic() - started:.0f} s: "
        f"measured on a loaded machine"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--others", type=int, default=OTHERS)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    parser.add_argument("--trace", action="store_true", help="time the steps inside the server")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    parser.add_argument(
        "--fallback",
        action="store_true",
        help="also phase 1 with B's socket blocked: over Server-Sent Events, then long polls",
    )
    parser.add_argument(
        "--one-instance", action="store_true", help="phase 1 only (with --fallback: 1, 1b, 1c)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="phase 1's series this many times; the one-instance targets take the medians",
    )
    parser.add_argument(
        "--page-profile",
        action="store_true",
        help="also phase 1 again with Chromium's profiler on B: where B's page spends a push",
    )
    args = parser.parse_args()
    assert 1 <= args.samples <= 1000 and 0 <= args.others <= 5000 and 1 <= args.repeat <= 50

    lift_open_file_limit()
    t_begin = time.monotonic()
    print("bench/push.py: live push latency")
    print(
        f"machine: {platform.platform()}; {os.cpu_count()} CPUs ({cpu_model()}); "
        f"Python {platform.python_version()}; Chromium {CHROMIUM}"
    )
    print(yardstick())
    start_load = loadavg()
    print(
        f"load average at start: {start_load[0]:.2f} {start_load[1]:.2f} {start_load[2]:.2f} "
        f"(1, 5, 15 min)"
    )
    load_note = wait_for_quiet(args.no_wait)
    print(load_note, flush=True)
    measured_load = loadavg()

    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    app = "bench.push:traced_app()" if args.trace else "wsgi:app"
    servers: list[Gunicorn] = []
    database = None
    prefix = f"bench-push-{secrets.token_hex(6)}"
    results: dict[str, object] = {}
    finished = False
    try:
        # 1. one instance, SQLite.
        trace1 = work / "trace1.jsonl"
        env1 = base_env({"STOREFRONT_DATABASE_URL": f"sqlite:///{work / 'shop.db'}"})
        if args.trace:
            env1["BENCH_TRACE_FILE"] = str(trace1)
        flask_cli(env1, "db", "upgrade")
        flask_cli(env1, "demo")
        one = Gunicorn(env1, work / "one.log", app=app, stop_timeout=25)
        servers.append(one)
        one.start()

        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                res1 = browser_series(browser, one.url, one.url, SKU_PHASE1, args.samples)
                results["one"] = report_browser(
                    "1. Browser to browser, one instance (gunicorn, SQLite, workers as gunicorn.conf.py gives)",
                    res1,
                )
                relay = Gunicorn(
                    base_env({}), work / "relay.log", workers=1, app="bench.http_apps:relay_app()"
                )
                servers.append(relay)
                relay.start()
                relay_figures = relay_series(browser, relay.url, args.samples)
                relay.stop()
                results["relay"] = relay_figures["push"]
                print(f"  floor: the same, bare relay      {summary(results['relay'])}")
                print(f"  (relay: XHR sent -> app          {summary(relay_figures['arrival'])})")
                print(
                    "    (bench/http_apps.py:relay_app, run right after: Chromium's XHR, gunicorn "
                    "with this config and 1 worker,\n     flask-sock, B's socket, B sets the "
                    "count; no shop, no database, no htmx)"
                )
                if args.repeat > 1:
                    results["one_repeated"] = repeated_series(
                        browser, one.url, args.samples, args.repeat, results["one"]["push"]
                    )
                if args.trace:
                    trace_breakdown("one instance", res1["rows"], read_trace(trace1))
                if args.page_profile:
                    profiled = browser_series(
                        browser, one.url, one.url, SKU_PHASE1, args.samples, profile_b=True
                    )
                    page_profile(profiled["b_profile"], len(profiled["rows"]))
                if args.fallback:
                    for key, transport, words in FALLBACKS:
                        res = browser_series(
                            browser, one.url, one.url, SKU_PHASE1, args.samples, transport
                        )
                        results[key] = report_browser(
                            f"{key[-2:]}. The same, B's socket blocked: {words}", res
                        )
                    compare_transports(results)
                if not args.one_instance:
                    # 2. two instances, PostgreSQL + Redis.
                    import psycopg

                    name = f"bench_push_{os.getpid()}_{secrets.token_hex(4)}"
                    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                        admin.execute(f'CREATE DATABASE "{name}"')
                    database = name
                    trace2 = work / "trace2.jsonl"
                    env2 = base_env(
                        {
                            "STOREFRONT_DATABASE_URL": POSTGRES_URL.format(name=name),
                            "STOREFRONT_REDIS_URL": REDIS_URL,
                            "STOREFRONT_REDIS_PREFIX": prefix,
                        }
                    )
                    if args.trace:
                        env2["BENCH_TRACE_FILE"] = str(trace2)
                    flask_cli(env2, "db", "upgrade")
                    flask_cli(env2, "demo")
                    pair = [
                        Gunicorn(
                            env2, work / f"instance{n}.log", workers=1, app=app, stop_timeout=25
                        )
                        for n in (1, 2)
                    ]
                    servers.extend(pair)
                    for server in pair:
                        server.start()
                    res2 = browser_series(
                        browser, pair[0].url, pair[1].url, SKU_PHASE2, args.samples
                    )
                    results["two"] = report_browser(
                        "2. Browser to browser, two instances (PostgreSQL + Redis, 1 worker each)",
                        res2,
                    )
                    if args.trace:
                        trace_breakdown("two instances", res2["rows"], read_trace(trace2))
                    for server in pair:
                        server.stop()
            finally:
                browser.close()

        if not args.one_instance:
            # 3. fan-out: a fresh worker on the same SQLite database.
            one.stop()
            trace3 = work / "trace3.jsonl"
            if args.trace:
                env1["BENCH_TRACE_FILE"] = str(trace3)
            fan = Gunicorn(env1, work / "fanout.log", app=app, stop_timeout=25)
            servers.append(fan)
            fan.start()
            results["fanout"] = phase_fanout(
                fan, args.samples, args.others, trace3 if args.trace else None
            )
            fan.stop()
        finished = True
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                server.stop()
        if database:
            drop_database(database)
        forget_redis_keys(prefix)
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(server logs kept in {work})", file=sys.stderr)

    end_load = loadavg()
    failed = False
    print("\nTargets")
    for key, label, target in (
        ("one", "one instance", TARGET_ONE_MS),
        ("two", "two instances", TARGET_TWO_MS),
    ):
        if key not in results:
            continue
        pushes = results[key]["push"]
        series = results.get(f"{key}_repeated")  # the medians of --repeat's series
        # Issue 10's targets (p50 and p95) beside the first ones (p99).
        checks = [(99, target)] + ISSUE_10_TARGETS[key]
        if series:
            print(f"  (one instance: the median of {len(series)} series' percentiles)")
        for percent, limit in checks:
            measured = (
                statistics.median(pct(one, percent) for one in series)
                if series
                else pct(pushes, percent)
            )
            ok = measured <= limit
            failed |= not ok
            print(
                f"  browser-to-browser p{percent}, {label:<14} {measured:7.1f} ms  "
                f"<= {limit:.0f} ms  {'PASS' if ok else 'FAIL'}"
            )
    if "relay" in results:
        print(
            "  for comparison, the floor (a bare relay, no shop): "
            + ", ".join(f"p{p} {pct(results['relay'], p):.1f}" for p in (50, 95, 99))
            + " ms"
        )
    print(
        f"load average at start {start_load[0]:.2f}, when measuring began {measured_load[0]:.2f},"
        f" at end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f} "
        f"({os.cpu_count()} CPUs){'  -- LOADED MACHINE' if end_load[0] > LOAD_LIMIT else ''}"
    )
    print(f"total time {time.monotonic() - t_begin:.0f} s; {load_note}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
