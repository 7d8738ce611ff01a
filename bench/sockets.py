#!/usr/bin/env python
"""Open pages: what thousands of open WebSockets cost the shop's workers, gevent against gthread.

Run from the repository root (loopback only, bounded loops, about 4 minutes in all):

    .venv/bin/python bench/sockets.py                 # 500 shoppers x 10 pages, both designs
    .venv/bin/python bench/sockets.py --designs gevent --shoppers 100

For each design, in the same run and on the same fresh SQLite file (the embedded default: as
many workers as gunicorn.conf.py gives, reaching each other through the instance folder; RSS
and threads are of all workers together), ``python -m gunicorn wsgi:app`` with the repository's
gunicorn.conf.py; ``gthread`` is the design before issue 10, started with
``GUNICORN_CMD_ARGS="-k gthread --worker-connections 2200"`` (threads=1100 from the config
file, worker_connections as that config had it: 2 x threads). Then:

1. Idle worker: RSS and threads (/proc); 20 sequential ``GET /`` (a new connection each);
   fan-out to one shopper's 3 sockets: 100 x ``POST /api/v1/cart/lines`` for that shopper,
   time from just before the POST to each socket's event carrying the new cart version
   (the first 3 samples are warm-up and dropped).
2. 500 guest shoppers (a cookie each from ``GET /api/v1/cart``) open 10 pages' sockets each:
   5,000 WebSockets, at most 500 handshakes in flight, each given 10 s to answer 101 and
   deliver the server's first message (the "hello"); that is what "connected" means here.
   The client offers permessage-deflate, as browsers do; the server declines it (both designs:
   storefront/realtime/socket.py). RSS and threads again.
3. With them open: 20 sequential ``GET /`` (5 s timeout each; after 3 timeouts in a row the
   rest are not tried); one change by each of 5 shoppers (``POST /api/v1/cart/lines``), timed
   until all 10 of that shopper's pages hold the new version (10 s timeout); the 3-socket
   fan-out series again, beside the 5,000 idle sockets.
4. SIGTERM to gunicorn: how many open sockets got close code 1012, and how long it took.

Percentiles are nearest-rank: of 20 samples p99 is the worst one, so the bench prints p95 too.
All the WebSocket clients are one asyncio loop in a thread of this process (a hand-written
RFC 6455 client: a few KB per socket here, so the server's costs are what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import struct
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from bench.common import cpu_model, lift_open_file_limit, yardstick  # noqa: E402
from e2e.processes import Gunicorn, flask_cli  # noqa: E402

SHOPPERS = 500
PAGES = 10
DEVICES = 3
SAMPLES = 100
WARMUP = 3
PROBES = 20
CHANGERS = 5
IN_FLIGHT = 500
HANDSHAKE_S = 10.0
OPEN_DEADLINE_S = 100.0
GET_TIMEOUT_S = 5.0
PUSH_TIMEOUT_S = 10.0
TARGET_GET_MS = 250.0
TARGET_FANOUT_MS = 100.0
SKU = "DEMO-0104"  # no options, 10,000 in stock
VERSION = re.compile(r'id="cart-state"[^>]*?data-cart-version="(\d+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
GTHREAD_ARGS = "-k gthread --worker-connections 2200"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  p99 {pct(values, 99):7.1f}  "
        f"max {max(values):7.1f} ms  (n={len(values)})"
    )


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def worker_stats(server: Gunicorn) -> tuple[float, int]:
    """RSS (MB) and threads of all the server's workers together."""
    statuses = [proc_status(pid) for pid in server.worker_pids()]
    rss = sum(int(status["VmRSS"].split()[0]) for status in statuses) / 1024
    return rss, sum(int(status["Threads"]) for status in statuses)


# --- HTTP (main thread) -----------------------------------------------------------------------


class Shopper:
    def __init__(self) -> None:
        self.jar: dict[str, str] = {}
        self.csrf = ""
        self.pages: list[Page] = []

    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.jar.items())

    def request(self, port: int, method: str, path: str, body=None, timeout=30.0):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            headers = {"Cookie": self.cookie()} if self.jar else {}
            if body is not None:
                headers.update({"Content-Type": "application/json", "X-CSRF-Token": self.csrf})
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            for header in response.msg.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.jar[name.strip()] = rest.split(";", 1)[0]
            return response.status, payload
        finally:
            conn.close()

    def add(self, port: int, timeout=30.0) -> int:
        status, payload = self.request(
            port,
            "POST",
            "/api/v1/cart/lines",
            json.dumps({"sku": SKU, "quantity": 1}),
            timeout=timeout,
        )
        if status != 200:
            raise RuntimeError(f"POST /api/v1/cart/lines: HTTP {status} {payload[:200]!r}")
        return json.loads(payload)["version"]


def timed_gets(port: int, n: int) -> tuple[list[float], str]:
    times, failures, note = [], 0, ""
    anonymous = Shopper()
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            status, _ = anonymous.request(port, "GET", "/", timeout=GET_TIMEOUT_S)
            if status != 200:
                raise RuntimeError(f"HTTP {status}")
            times.append((time.perf_counter() - t0) * 1000)
            failures = 0
        except Exception as exc:
            failures += 1
            note = f"{type(exc).__name__} after {(time.perf_counter() - t0):.1f} s"
            if failures >= 3:
                note += "; 3 in a row: the rest not tried"
                break
    return times, note


# --- WebSocket clients (one asyncio loop in a thread) ----------------------------------------


class Page:
    """One open page's socket: stamps (perf_counter) each cart version it is sent."""

    def __init__(self) -> None:
        self.hello = False
        self.close_code: int | None = None
        self.seen: dict[int, float] = {}
        self.cond = threading.Condition()
        self.writer: asyncio.StreamWriter | None = None

    def wait_version(self, version: int, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while version not in self.seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.seen[version]


class Clients:
    def __init__(self, port: int) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: set[asyncio.Task] = set()

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def open_many(self, specs: list[tuple[Shopper, Page]]) -> float:
        async def all_of():
            gate = asyncio.Semaphore(IN_FLIGHT)
            started = time.monotonic()

            async def one(shopper, page):
                async with gate:
                    if time.monotonic() - started > OPEN_DEADLINE_S:
                        return
                    await self._open(shopper, page)

            await asyncio.gather(*(one(s, p) for s, p in specs))

        t0 = time.monotonic()
        self.run(all_of())
        return time.monotonic() - t0

    async def _open(self, shopper: Shopper, page: Page) -> None:
        hello = asyncio.Event()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), HANDSHAKE_S
            )
        except Exception:
            return
        page.writer = writer
        task = self.loop.create_task(self._serve(shopper, page, reader, writer, hello))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        try:
            await asyncio.wait_for(hello.wait(), HANDSHAKE_S)
        except TimeoutError:
            task.cancel()
            writer.close()

    async def _serve(self, shopper, page, reader, writer, hello) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                f"Origin: http://127.0.0.1:{self.port}\r\nCookie: {shopper.cookie()}\r\n\r\n"
            ).encode()
        )
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if not head.startswith("HTTP/1.1 101"):
                return
            inflate = zlib.decompressobj(-15) if "permessage-deflate" in head.lower() else None
            parts: list[bytes] = []
            compressed = False
            while True:
                b0, b1 = await reader.readexactly(2)
                length = b1 & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", await reader.readexactly(8))
                payload = await reader.readexactly(length)
                opcode = b0 & 0x0F
                if opcode == 0x8:
                    page.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                    with contextlib.suppress(Exception):
                        writer.write(_frame(0x8, payload[:2]))
                    return
                if opcode == 0x9:
                    writer.write(_frame(0xA, payload))
                    continue
                if opcode in (0x1, 0x2):
                    parts, compressed = [payload], bool(b0 & 0x40)
                elif opcode == 0x0:
                    parts.append(payload)
                else:
                    continue
                if not b0 & 0x80:
                    continue
                data = b"".join(parts)
                if compressed and inflate is not None:
                    data = inflate.decompress(data + b"\x00\x00\xff\xff")
                stamp = time.perf_counter()
                text = data.decode()
                if not page.hello:
                    page.hello = True
                    hello.set()
                found = VERSION.search(text)
                if found:
                    with page.cond:
                        page.seen[int(found.group(1))] = stamp
                        page.cond.notify_all()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def close_all(self) -> None:
        async def closing():
            for task in list(self.tasks):
                task.cancel()
            await asyncio.sleep(0.5)

        with contextlib.suppress(Exception):
            self.run(closing(), timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def fanout(port: int, shopper: Shopper, pages: list[Page], samples: int) -> tuple[list, str]:
    deliveries: list[float] = []
    for i in range(WARMUP + samples):
        t0 = time.perf_counter()
        try:
            version = shopper.add(port, timeout=PUSH_TIMEOUT_S)
        except Exception as exc:
            return (
                deliveries,
                f"POST failed: {type(exc).__name__} after {time.perf_counter() - t0:.1f} s",
            )
        stamps = [page.wait_version(version, PUSH_TIMEOUT_S) for page in pages]
        if None in stamps:
            return (
                deliveries,
                f"version {version} missing on {stamps.count(None)} of {len(pages)} sockets",
            )
        if i >= WARMUP:
            deliveries.extend((s - t0) * 1000 for s in stamps)
    return deliveries, ""


# --- one design --------------------------------------------------------------------------------


def run_design(name: str, env: dict, work: Path, shoppers_n: int, samples: int) -> dict:
    env = dict(env)
    if name == "gthread":
        env["GUNICORN_CMD_ARGS"] = GTHREAD_ARGS
    print(
        f"\n== {name} ({'gunicorn.conf.py' if name == 'gevent' else GTHREAD_ARGS}) "
        f"[load average {loadavg():.2f}]",
        flush=True,
    )
    server = Gunicorn(env, work / f"{name}.log", stop_timeout=40)
    server.start()
    port = server.port
    clients = Clients(port)
    r: dict = {"design": name}
    try:
        r["rss_idle"], r["threads_idle"] = worker_stats(server)
        timed_gets(port, 3)  # warm-up
        r["get_idle"], _ = timed_gets(port, PROBES)
        print(f"  idle worker: RSS {r['rss_idle']:.0f} MB, {r['threads_idle']} threads")
        print(f"  GET / x{PROBES}, no sockets:           {summary(r['get_idle'])}")

        devices = Shopper()
        status, page_html = devices.request(port, "GET", "/")
        devices.csrf = CSRF_META.search(page_html.decode()).group(1)
        devices.pages = [Page() for _ in range(DEVICES)]
        clients.open_many([(devices, p) for p in devices.pages])
        assert all(p.hello for p in devices.pages), "the 3 devices' sockets did not connect"
        r["fan_idle"], note = fanout(port, devices, devices.pages, samples)
        print(f"  fan-out to 3 sockets, 0 others:      {summary(r['fan_idle'])} {note}")

        crowd = [Shopper() for _ in range(shoppers_n)]
        t0 = time.monotonic()
        for shopper in crowd[:CHANGERS]:
            status, page_html = shopper.request(port, "GET", "/")
            shopper.csrf = CSRF_META.search(page_html.decode()).group(1)
        for shopper in crowd[CHANGERS:]:
            status, _ = shopper.request(port, "GET", "/api/v1/cart")
            assert status == 200 and shopper.jar, "a guest got no cookie"
        print(f"  {shoppers_n} guest cookies in {time.monotonic() - t0:.1f} s", flush=True)
        specs = []
        for shopper in crowd:
            shopper.pages = [Page() for _ in range(PAGES)]
            specs += [(shopper, p) for p in shopper.pages]
        r["open_s"] = clients.open_many(specs)
        time.sleep(1.0)
        r["wanted"] = len(specs)
        r["connected"] = sum(p.hello for _, p in specs)
        r["rss_open"], r["threads_open"] = worker_stats(server)
        print(
            f"  sockets connected: {r['connected']:,} of {r['wanted']:,} "
            f"(attempts took {r['open_s']:.1f} s) [load average {loadavg():.2f}]"
        )
        print(f"  worker with them open: RSS {r['rss_open']:.0f} MB, {r['threads_open']} threads")

        r["get_open"], r["get_note"] = timed_gets(port, PROBES)
        print(f"  GET / x{PROBES}, sockets open:         {summary(r['get_open'])} {r['get_note']}")

        reach = []
        for shopper in crowd[:CHANGERS]:
            t0 = time.perf_counter()
            try:
                version = shopper.add(port, timeout=PUSH_TIMEOUT_S)
            except Exception as exc:
                reach.append((0, None, f"POST failed: {type(exc).__name__}"))
                continue
            stamps = [p.wait_version(version, PUSH_TIMEOUT_S) for p in shopper.pages]
            got = [s for s in stamps if s is not None]
            worst = (max(got) - t0) * 1000 if got else None
            reach.append((len(got), worst, ""))
        r["reach"] = reach
        for n, worst, note in reach:
            print(
                f"  one shopper's change -> their {PAGES} pages: {n}/{PAGES} reached"
                + (f", the last after {worst:.1f} ms" if worst is not None else "")
                + (f" ({note})" if note else "")
            )

        r["fan_open"], r["fan_note"] = fanout(port, devices, devices.pages, samples)
        print(
            f"  fan-out to 3 sockets beside {r['connected']:,}: {summary(r['fan_open'])} "
            f"{r['fan_note']}"
        )
        r["rss_after"], r["threads_after"] = worker_stats(server)
        open_pages = [p for _, p in specs if p.hello and p.close_code is None]
        open_pages += [p for p in devices.pages if p.close_code is None]
        t0 = time.monotonic()
        server.stop()
        r["stop_s"] = time.monotonic() - t0
        time.sleep(1.0)
        r["closed_1012"] = sum(p.close_code == 1012 for p in open_pages)
        r["open_at_stop"] = len(open_pages)
        print(
            f"  SIGTERM: {r['closed_1012']:,} of {r['open_at_stop']:,} open sockets closed with "
            f"1012; gunicorn gone after {r['stop_s']:.1f} s"
        )
    finally:
        server.stop()
        clients.close_all()
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shoppers", type=int, default=SHOPPERS)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--designs", default="gevent,gthread")
    args = parser.parse_args()
    assert 1 <= args.shoppers <= 1000 and 1 <= args.samples <= 1000
    designs = args.designs.split(",")
    assert set(designs) <= {"gevent", "gthread"}

    lift_open_file_limit()
    cpu = cpu_model()
    print("bench/sockets.py: open pages, gevent against gthread")
    print(
        f"machine: {platform.platform()}; {os.cpu_count()} CPUs ({cpu}); "
        f"Python {platform.python_version()}; load average at start {loadavg():.2f}"
    )
    print(yardstick())
    t_begin = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-sockets-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOREFRONT_", "GUNICORN_"))}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "STOREFRONT_DATABASE_URL": f"sqlite:///{work / 'shop.db'}",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "STOREFRONT_CART_RATE_LIMIT": "100000/second",
        }
    )
    results, finished = [], False
    try:
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "demo")
        for name in designs:
            results.append(run_design(name, env, work, args.shoppers, args.samples))
        finished = True
    finally:
        if finished:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"(server logs kept in {work})", file=sys.stderr)

    wanted = args.shoppers * PAGES
    print(f"\nTargets ({wanted:,} open pages)")
    for r in results:
        connected_ok = r["connected"] == r["wanted"]
        worst = max(r["get_open"]) if len(r["get_open"]) == PROBES else float("inf")
        reached = all(n == PAGES for n, _, _ in r["reach"])
        fan = (
            pct(r["fan_open"], 99) if len(r["fan_open"]) == DEVICES * args.samples else float("inf")
        )
        per_socket = (r["rss_open"] - r["rss_idle"]) * 1024 / max(1, r["connected"])
        print(f"  {r['design']}:")
        print(
            f"    every socket connects: {r['connected']:,}/{r['wanted']:,}  "
            f"{'PASS' if connected_ok else 'FAIL'}"
        )
        print(
            f"    worst of {PROBES} GET / <= {TARGET_GET_MS:.0f} ms: {worst:.1f} ms  "
            f"{'PASS' if worst <= TARGET_GET_MS else 'FAIL'}"
        )
        print(f"    a change reaches all {PAGES} pages: {'PASS' if reached else 'FAIL'}")
        print(
            f"    fan-out p99 <= {TARGET_FANOUT_MS:.0f} ms beside the open sockets: {fan:.1f} ms  "
            f"{'PASS' if fan <= TARGET_FANOUT_MS else 'FAIL'}"
        )
        print(
            f"    memory: RSS {r['rss_idle']:.0f} -> {r['rss_open']:.0f} MB "
            f"({per_socket:.0f} KB per connected socket), threads {r['threads_idle']} -> "
            f"{r['threads_open']}"
        )
    print(f"load average at end {loadavg():.2f}; total time {time.monotonic() - t_begin:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
