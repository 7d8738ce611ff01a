#!/usr/bin/env python
"""Cart operations benchmark: time in the server for cart requests on a 1,000-line cart, and
bytes stored per cart line.

Run from the repository root:

    .venv/bin/python bench/cart_ops.py              # latency + storage
    .venv/bin/python bench/cart_ops.py --history    # also: history growth and restore time
    .venv/bin/python bench/cart_ops.py --strict     # exit 1 if a target fails

How it measures (see docs/PERFORMANCE.md):

- The real app (``create_app``) on a fresh SQLite file in a temporary directory: migrations
  (``flask_migrate.upgrade``) and the demo catalog (``load_demo``), then one guest shopper
  driven through the Flask test client, with the CSRF token taken from a page's
  ``<meta name="csrf-token">`` and sent as ``X-CSRF-Token``.
- "Time in the server": ``app.wsgi_app`` is wrapped by a middleware that reads
  ``time.perf_counter_ns()`` before calling it and after the response body has been produced
  and closed (so teardown, commit and body rendering count; the test client's own request
  building and cookie handling do not). It also reads ``time.thread_time_ns()``: CPU time of
  the serving thread, which leaves out time the thread spent descheduled on a busy machine.
- Baseline: a bare ``Flask(__name__)`` app with one route returning "ok", timed the same way.
- The app's own per-request log lines are still formatted and written, to /dev/null.
- Percentiles are nearest-rank: p99 of 100 samples is the 99th smallest; of 50 or 20 samples
  it is the largest.
- Storage: ``VACUUM`` (plus a WAL checkpoint) of the SQLite file with the demo catalog and an
  empty cart, and again after the 1,100 adds that build the 1,000-line cart; growth / 1,000.
- ``--history`` continues on a copy of the database as it was right after those 1,100 adds
  (same keys, same shopper cookie): 2,000 quantity changes and 200 removals, VACUUM, growth per
  line left in the cart; then ``state_at(cart_id, version - 1000)`` (``storefront.cart.history``,
  or ``storefront.cart.store`` where it used to live) 50 times, each in a
  fresh app context (a fresh session, as a request would have).
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib
import logging
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from flask import Flask
from flask_migrate import upgrade

import storefront
from storefront import create_app, server
from storefront.cart import store
from storefront.cart.types import Owner
from storefront.catalog.demo import load_demo
from storefront.extensions import db

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0 Safari/537.36"
)
MINIMAL = {"Prefer": "return=minimal"}

LINES = 1_000
EXTRA_ADDS = 100  # adds to existing lines while building the cart
MEASURED = {"add": 100, "set_quantity": 100, "remove": 100, "get_json": 50, "get_page": 20}
BASELINE_REQUESTS = 1_000
HISTORY_CHANGES, HISTORY_REMOVALS, HISTORY_BACK, RESTORES = 2_000, 200, 1_000, 50

TARGET_ADD_P99_MS = 20.0
TARGET_BYTES_PER_LINE = 512.0
TARGET_RESTORE_P99_MS = 50.0


# --- timing -----------------------------------------------------------------------------------


class GcPauses:
    """Garbage collections that ran while something was being measured, by generation: a
    collection landing inside a request is what makes its p99 (storefront.server.tune_garbage_collector).
    """

    def __init__(self):
        self.measuring = False
        self.pauses: dict[int, list[int]] = {0: [], 1: [], 2: []}
        self._started = 0

    def __call__(self, phase: str, info: dict) -> None:
        if not self.measuring:
            return
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.pauses[info["generation"]].append(time.perf_counter_ns() - self._started)

    def report(self) -> list[str]:
        lines = [
            "\nGarbage collections inside the shop's measured work (gc.get_threshold() = "
            f"{gc.get_threshold()})"
        ]
        for generation, pauses in self.pauses.items():
            if pauses:
                lines.append(
                    f"  generation {generation}: {len(pauses):>5} collections, "
                    f"median {percentile(pauses, 0.5):.2f} ms, max {max(pauses) / 1e6:.2f} ms, "
                    f"total {sum(pauses) / 1e6:.1f} ms"
                )
            else:
                lines.append(f"  generation {generation}: none")
        return lines


GC_PAUSES = GcPauses()


class ServerTimer:
    """WSGI middleware: nanoseconds from the call to the last byte of the (closed) body."""

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app
        self.last_ns = 0
        self.last_cpu_ns = 0

    def __call__(self, environ, start_response):
        GC_PAUSES.measuring = True
        cpu_started = time.thread_time_ns()
        started = time.perf_counter_ns()
        result = self.wsgi_app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self.last_ns = time.perf_counter_ns() - started
        self.last_cpu_ns = time.thread_time_ns() - cpu_started
        GC_PAUSES.measuring = False
        return [body]


def timed(app: Flask) -> ServerTimer:
    timer = ServerTimer(app.wsgi_app)
    app.wsgi_app = timer
    return timer


def percentile(samples_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    ordered = sorted(samples_ns)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1] / 1e6


class Sample(NamedTuple):
    wall_ns: int
    cpu_ns: int


class Results:
    def __init__(self):
        self.rows: list[tuple[str, list[Sample]]] = []
        self.checks: list[tuple[str, float, str, float, bool]] = []
        self.storage: list[str] = []

    def add(self, name: str, samples: list[Sample]) -> list[Sample]:
        self.rows.append((name, samples))
        return samples

    def p99(self, name: str) -> float:
        return next(percentile([s.wall_ns for s in v], 0.99) for n, v in self.rows if n == name)

    def check(self, name: str, value: float, unit: str, limit: float) -> bool:
        ok = value <= limit
        self.checks.append((name, value, unit, limit, ok))
        return ok


# --- the shop and one shopper ------------------------------------------------------------------


class Keys(NamedTuple):
    secret: str
    encryption: str

    @classmethod
    def new(cls) -> Keys:
        return cls(
            "bench-" + base64.urlsafe_b64encode(os.urandom(24)).decode(),
            base64.urlsafe_b64encode(os.urandom(32)).decode(),
        )


def open_shop(path: Path, keys: Keys) -> Flask:
    app = create_app(
        {
            "STOREFRONT_DATABASE_URL": f"sqlite:///{path}",
            "STOREFRONT_SECRET_KEY": keys.secret,
            "STOREFRONT_ENCRYPTION_KEYS": keys.encryption,
            # A benchmark is one very busy shopper: keep any cart rate limit out of the way.
            "STOREFRONT_CART_RATE_LIMIT": "1000000/second",
            "INSTANCE_PATH": str(path.with_suffix(".instance")),
        }
    )
    server.tune_garbage_collector()  # as gunicorn.conf.py does in every worker
    if YOUNG_GC_THRESHOLD is not None:  # --young-gc-threshold: what the app's tuning is worth
        gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
    quiet_app_logs()
    return app


YOUNG_GC_THRESHOLD: int | None = None


def quiet_app_logs() -> None:
    """The app writes a log line per request (where it has access logs): keep that work in the
    measurement, but send the lines to /dev/null instead of over the benchmark's report."""
    global _devnull
    for handler in logging.getLogger("storefront").handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
            sys.stderr,
            sys.stdout,
        ):
            if _devnull is None:
                _devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
            handler.setStream(_devnull)


_devnull = None


def new_shop(path: Path, keys: Keys) -> Flask:
    """A fresh database: migrations, then the demo catalog."""
    app = open_shop(path, keys)
    logging.disable(logging.INFO)  # Alembic's fileConfig turns on INFO logging
    try:
        with app.app_context():
            upgrade()
            load_demo()
            db.session.remove()
    finally:
        logging.disable(logging.NOTSET)
    return app


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Shopper:
    """One browser: cookies, CSRF token from a page, JSON API calls; records server time."""

    def __init__(self, app: Flask, cookie: str | None = None):
        self.timer = timed(app)
        self.client = app.test_client()
        if cookie is not None:
            self.client.set_cookie("storefront", cookie)
        self.csrf = ""
        self.page("/")
        if not self.csrf:
            raise SystemExit('no <meta name="csrf-token"> on GET /')

    @property
    def cookie(self) -> str:
        return self.client.get_cookie("storefront").value

    def _sample(self, response, method: str, path: str) -> Sample:
        if response.status_code != 200:
            raise SystemExit(
                f"{method} {path}: HTTP {response.status_code} "
                f"{response.get_data(as_text=True)[:300]}"
            )
        return Sample(self.timer.last_ns, self.timer.last_cpu_ns)

    def page(self, path: str) -> Sample:
        response = self.client.get(path, headers={"User-Agent": USER_AGENT})
        sample = self._sample(response, "GET", path)
        found = CSRF_META.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return sample

    def api(self, method: str, path: str, json=None, headers: dict | None = None):
        """Returns (parsed JSON body, server time)."""
        response = self.client.open(
            "/api/v1" + path,
            method=method,
            json=json,
            headers={"User-Agent": USER_AGENT, "X-CSRF-Token": self.csrf, **(headers or {})},
        )
        sample = self._sample(response, method, path)
        return response.get_json(), sample

    def add(self, sku: str, quantity: int = 1, options: dict | None = None) -> Sample:
        body = {"sku": sku, "quantity": quantity}
        if options:
            body["options"] = options
        return self.api("POST", "/cart/lines", body, MINIMAL)[1]

    def set_quantity(self, line_id: str, quantity: int) -> Sample:
        return self.api("PATCH", f"/cart/lines/{line_id}", {"quantity": quantity}, MINIMAL)[1]

    def remove(self, line_id: str) -> Sample:
        return self.api("DELETE", f"/cart/lines/{line_id}", None, MINIMAL)[1]

    def get_cart(self) -> Sample:
        return self.api("GET", "/cart")[1]

    def lines(self) -> list[dict]:
        return self.api("GET", "/cart")[0]["lines"]


def demo_options(n: int) -> dict | None:
    """DEMO-0001..0010 require a size; DEMO-0011..0020 take an optional engraving."""
    if n <= 10:
        return {"size": ("S", "M", "L", "XL")[n % 4]}
    if n <= 20 and n % 2:
        return {"engraving": f"For Sam, no. {n}"}
    return None


def build_cart(shopper: Shopper, rng: random.Random) -> list[Sample]:
    """1,000 distinct lines (DEMO-0001..DEMO-1000), then 100 adds to existing lines."""
    samples = [shopper.add(f"DEMO-{n:04d}", 1, demo_options(n)) for n in range(1, LINES + 1)]
    for n in rng.sample(range(1, LINES + 1), EXTRA_ADDS):
        samples.append(shopper.add(f"DEMO-{n:04d}", 1, demo_options(n)))
    return samples


# --- storage ------------------------------------------------------------------------------------


def vacuum(app: Flask, path: Path) -> int:
    """Close the app's connections, VACUUM and checkpoint the WAL away; bytes on disk."""
    dispose(app)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("VACUUM")
        busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise SystemExit("could not checkpoint the WAL after VACUUM")
    finally:
        con.close()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def table_report(path: Path) -> list[str]:
    """Rows and blob bytes of the cart tables, and their pages on disk (dbstat)."""
    con = sqlite3.connect(path)
    try:
        q = con.execute
        revisions = q("SELECT count(*), coalesce(sum(length(op)), 0) FROM cart_revisions")
        snapshots = q("SELECT count(*), coalesce(sum(length(state)), 0) FROM cart_snapshots")
        carts = q("SELECT count(*), coalesce(sum(length(state)), 0) FROM carts")
        idem = q("SELECT count(*) FROM idempotency_keys").fetchone()[0]
        report = [
            "  cart_revisions: {:>6,} rows, {:>9,} bytes in op".format(*revisions.fetchone()),
            "  cart_snapshots: {:>6,} rows, {:>9,} bytes in state".format(*snapshots.fetchone()),
            "  carts:          {:>6,} rows, {:>9,} bytes in state".format(*carts.fetchone()),
            f"  idempotency_keys: {idem:,} rows",
        ]
        try:
            pages = q(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC"
            ).fetchall()
        except sqlite3.OperationalError:  # SQLite built without dbstat
            pages = []
        if pages:
            report.append("  pages on disk by table/index (dbstat):")
            report.extend(f"    {name:<32} {size:>9,} B" for name, size in pages if size > 4096)
            report.append("    (every other table and index: one 4,096-byte page)")
        return report
    finally:
        con.close()


def storage(
    results: Results,
    label: str,
    empty: int,
    full: int,
    divisors: list[tuple[int, str]],
    report: list[str],
) -> None:
    """The first divisor is checked against the target; the others are printed for context."""
    out = results.storage
    out.append(f"\nStorage, {label}")
    out.append(f"  file after VACUUM, empty cart:  {empty:>10,} bytes")
    out.append(f"  file after VACUUM, now:         {full:>10,} bytes")
    out.append(f"  growth:                         {full - empty:>10,} bytes")
    for i, (lines, what) in enumerate(divisors):
        per_line = (full - empty) / lines
        verdict = ""
        if i == 0:
            ok = results.check(f"storage: {label}", per_line, "B/line", TARGET_BYTES_PER_LINE)
            verdict = f"  (target <= {TARGET_BYTES_PER_LINE:.0f}) {'PASS' if ok else 'FAIL'}"
        out.append(f"  growth / {lines:,} ({what}): {per_line:,.1f} bytes per line{verdict}")
    out.extend(report)


# --- phases -------------------------------------------------------------------------------------

ADD = "add to existing line (POST /cart/lines)"
RESTORE = "state_at(cart, version - 1000)"
WORST_RESTORES = 20


def baseline(results: Results) -> float:
    bare = Flask(__name__)

    @bare.get("/")
    def ok():
        return "ok"

    timer = timed(bare)
    client = bare.test_client()
    for _ in range(50):  # warm-up, not measured
        client.get("/")
    samples = []
    for _ in range(BASELINE_REQUESTS):
        client.get("/")
        samples.append(Sample(timer.last_ns, timer.last_cpu_ns))
    results.add('baseline: bare Flask, GET / -> "ok"', samples)
    return percentile([s.wall_ns for s in samples], 0.5)


def main_phase(directory: Path, results: Results, rng: random.Random, keys: Keys, history: bool):
    """Returns (empty size, path of the database right after the build, cookie) for --history."""
    path = directory / "cart.db"
    app = new_shop(path, keys)
    shopper = Shopper(app)
    empty = vacuum(app, path)

    results.add("build: 1,100 adds, 0 -> 1,000 lines (info)", build_cart(shopper, rng))
    full = vacuum(app, path)
    storage(
        results,
        "1,100 adds -> 1,000-line cart",
        empty,
        full,
        [(LINES, "lines in the cart")],
        table_report(path),
    )
    snapshot = None
    if history:
        snapshot = directory / "after-build.db"
        shutil.copyfile(path, snapshot)  # the WAL was checkpointed away: the file is whole

    items = shopper.lines()  # also re-opens the connection before anything is measured
    assert len(items) == LINES, len(items)
    picks = rng.choices(items, k=MEASURED["add"])
    results.add(ADD, [shopper.add(ln["sku"], 1, ln["options"] or None) for ln in picks])
    picks = rng.choices(items, k=MEASURED["set_quantity"])
    results.add(
        "set quantity (PATCH /cart/lines/<id>)",
        [shopper.set_quantity(ln["id"], rng.randint(2, 40)) for ln in picks],
    )
    removed = rng.sample(items, MEASURED["remove"])
    results.add("remove (DELETE /cart/lines/<id>)", [shopper.remove(ln["id"]) for ln in removed])
    results.add(
        "re-add removed line, 999 -> 1,000 (info)",
        [shopper.add(ln["sku"], ln["quantity"], ln["options"] or None) for ln in removed],
    )
    assert len(shopper.lines()) == LINES
    results.add(
        "GET /api/v1/cart (full JSON)", [shopper.get_cart() for _ in range(MEASURED["get_json"])]
    )
    results.add(
        "GET /cart (HTML page)", [shopper.page("/cart") for _ in range(MEASURED["get_page"])]
    )
    cookie = shopper.cookie
    dispose(app)
    return empty, snapshot, cookie


def find_state_at() -> Callable:
    """Restore reconstruction: ``storefront.cart.history.state_at`` (or, in older code,
    ``storefront.cart.store.state_at``)."""
    for name in ("storefront.cart.history", "storefront.cart.store"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "state_at"):
            return module.state_at
    raise SystemExit("no state_at(cart_id, version) in storefront.cart.history or .store")


def history_phase(
    directory: Path,
    results: Results,
    rng: random.Random,
    keys: Keys,
    empty: int,
    snapshot: Path,
    cookie: str,
) -> None:
    """From the cart right after the 1,100 adds: 2,000 quantity changes and 200 removals."""
    state_at = find_state_at()
    path = directory / "history.db"
    shutil.copyfile(snapshot, path)
    app = open_shop(path, keys)
    shopper = Shopper(app, cookie)
    items = shopper.lines()
    assert len(items) == LINES, len(items)
    quantities = {line["id"]: line["quantity"] for line in items}

    samples = []
    for _ in range(HISTORY_CHANGES):
        line_id = rng.choice(items)["id"]
        quantity = rng.choice([q for q in range(1, 51) if q != quantities[line_id]])
        quantities[line_id] = quantity
        samples.append(shopper.set_quantity(line_id, quantity))
    results.add("history: 2,000 quantity changes (info)", samples)
    removed = rng.sample(items, HISTORY_REMOVALS)
    results.add("history: 200 removals (info)", [shopper.remove(ln["id"]) for ln in removed])
    lines = len(shopper.lines())
    full = vacuum(app, path)
    storage(
        results,
        "--history: 1,100 adds + 2,000 changes + 200 removals",
        empty,
        full,
        # The measure divides by 1,000; per line left in the cart is shown beside it.
        [(LINES, "lines, the issue's divisor"), (lines, "lines in the cart now")],
        table_report(path),
    )

    with app.app_context():
        cart_id, version = db.session.execute(db.text("SELECT id, version FROM carts")).one()
        # Sanity: reconstructing the newest revision gives the cart as stored.
        assert state_at(cart_id, version) == store.read(_owner_of(app, cookie)).cart
    target = version - HISTORY_BACK
    samples = []
    for _ in range(RESTORES):
        with app.app_context():  # a fresh session each time, as a request would have
            GC_PAUSES.measuring = True
            cpu_started = time.thread_time_ns()
            started = time.perf_counter_ns()
            cart = state_at(cart_id, target)
            samples.append(
                Sample(time.perf_counter_ns() - started, time.thread_time_ns() - cpu_started)
            )
            GC_PAUSES.measuring = False
            db.session.remove()
    results.add(RESTORE, samples)

    with app.app_context():
        snaps = db.session.execute(
            db.text("SELECT version FROM cart_snapshots WHERE cart_id = :c ORDER BY version"),
            {"c": cart_id},
        ).scalars()
        snaps = [0, *snaps]
    base = max(v for v in snaps if v <= target)
    results.storage.append(
        f"\nRestore ({state_at.__module__}.state_at): cart at version {version}; "
        f"snapshots at versions {snaps[1:]}; "
        f"state_at({target}) has {len(cart):,} lines: the snapshot at {base} "
        f"plus {target - base:,} operations replayed"
    )
    # The worst case in this history: the revision just before the next snapshot, which
    # replays the most operations.
    ends = [*snaps[1:], version + 1]
    replayed, worst = max(
        (end - 1 - start, end - 1) for start, end in zip(snaps, ends, strict=True)
    )
    samples = []
    for _ in range(WORST_RESTORES):
        with app.app_context():
            GC_PAUSES.measuring = True
            cpu_started = time.thread_time_ns()
            started = time.perf_counter_ns()
            state_at(cart_id, worst)
            samples.append(
                Sample(time.perf_counter_ns() - started, time.thread_time_ns() - cpu_started)
            )
            GC_PAUSES.measuring = False
            db.session.remove()
    results.add(f"state_at worst case here: {replayed:,} ops replayed (info)", samples)
    results.storage.append(
        f"  worst case in this history: state_at({worst}), {replayed:,} operations replayed"
    )
    dispose(app)


def _owner_of(app: Flask, cookie: str) -> Owner:
    """The guest owner behind a session cookie."""
    session = app.session_interface.get_signing_serializer(app).loads(cookie)
    return Owner.guest(session["guest"])


# --- report -------------------------------------------------------------------------------------


def print_machine() -> None:
    print("Machine")
    print(f"  platform: {platform.platform()}")
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"  cpu: {cpu_model or platform.processor() or platform.machine()}")
    print(f"  cpu count: {os.cpu_count()}")
    print(f"  python: {platform.python_implementation()} {platform.python_version()}")
    print(f"  sqlite: {sqlite3.sqlite_version}")
    print(f"  load average at start: {_load()}")
    print(f"code under test: {code_under_test()}")


def code_under_test() -> str:
    root = Path(storefront.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "status",
                "--porcelain",
                "--",
                "storefront",
                "templates",
                "migrations",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{root} (not a git checkout)"
    return f"{root}, commit {commit}" + (
        " plus uncommitted changes to storefront/, templates/ or migrations/" if dirty else ""
    )


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def print_latency(results: Results, base_p50: float) -> None:
    print("\nTime in the server, ms (wall = perf_counter around the WSGI call; cpu = thread time)")
    width = max(len(name) for name, _ in results.rows)
    print(
        f"  {'operation':<{width}}  {'n':>5}  {'p50':>8}  {'p99':>8}  "
        f"{'cpu p50':>8}  {'cpu p99':>8}  {'p50/base':>8}"
    )
    for name, samples in results.rows:
        wall = [s.wall_ns for s in samples]
        cpu = [s.cpu_ns for s in samples]
        p50 = percentile(wall, 0.5)
        print(
            f"  {name:<{width}}  {len(samples):>5}  {p50:>8.3f}  {percentile(wall, 0.99):>8.3f}  "
            f"{percentile(cpu, 0.5):>8.3f}  {percentile(cpu, 0.99):>8.3f}  {p50 / base_p50:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--history", action="store_true", help="also: 2,000 changes, 200 removals, restore time"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target fails")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    parser.add_argument(
        "--young-gc-threshold",
        type=int,
        metavar="N",
        help="override the app's first garbage-collector threshold (for comparison)",
    )
    args = parser.parse_args(argv)
    global YOUNG_GC_THRESHOLD
    YOUNG_GC_THRESHOLD = args.young_gc_threshold

    started = time.perf_counter()
    print_machine()
    rng = random.Random(args.seed)
    keys = Keys.new()
    results = Results()
    directory = Path(tempfile.mkdtemp(prefix="storefront-bench-"))
    try:
        base_p50 = baseline(results)
        gc.callbacks.append(GC_PAUSES)  # the shop's collections, not the bare baseline's
        empty, snapshot, cookie = main_phase(directory, results, rng, keys, args.history)
        results.check("add p99", results.p99(ADD), "ms", TARGET_ADD_P99_MS)
        if args.history:
            history_phase(directory, results, rng, keys, empty, snapshot, cookie)
            results.check("restore p99", results.p99(RESTORE), "ms", TARGET_RESTORE_P99_MS)
    finally:
        if args.keep:
            print(f"\ndatabases kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)

    print_latency(results, base_p50)
    for line in results.storage:
        print(line)
    for line in GC_PAUSES.report():
        print(line)
    print("\nTargets")
    for name, value, unit, limit, ok in results.checks:
        print(f"  {name:<58} {value:>8.1f} {unit:<6} <= {limit:<4g} {'PASS' if ok else 'FAIL'}")
    print(f"\nload average at end: {_load()}; total run time {time.perf_counter() - started:.1f} s")
    failed = any(not ok for *_, ok in results.checks)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
