#!/usr/bin/env python
"""What the metrics cost a cart add: the same adds with the metrics on and off, in one run.

Run from the repository root:

    .venv/bin/python bench/metrics_cost.py                  # values in memory (flask run)
    .venv/bin/python bench/metrics_cost.py --multiprocess   # values in files, as under gunicorn

How it measures (docs/PERFORMANCE.md, "What the metrics cost"):

- The real app on a fresh SQLite file with the demo catalog, driven through the Flask test
  client by bench/cart_ops.py's ``Shopper``: "time in the server" from a WSGI middleware, wall
  and the serving thread's CPU time.
- "Off" takes out everything the metrics add to an add: the request hooks (request timing, the
  database clock), the SQLAlchemy cursor listeners, the commit listeners, and the cart's
  timer (``cart_timer``/``cart_committed`` replaced by no-ops). "On" is the app as shipped.
- Rounds alternate on, off, on, off... (a loaded machine drifts; alternating spreads the drift
  over both). Each round is a new guest adding ADDS distinct demo products (one new line
  each, so both sides do identical work), after WARMUP adds thrown away.
- ``--multiprocess`` sets PROMETHEUS_MULTIPROC_DIR (a temporary folder) before
  prometheus-client is imported: values are then written to memory-mapped files, as in every
  gunicorn worker.
- Percentiles are nearest-rank. The machine, load average and CPU count are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROUNDS = 12
ADDS = 60
WARMUP = 5
STATEMENTS = 8  # what an add runs (cart row, catalog facts, revision, ...), about


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiprocess", action="store_true")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    return parser.parse_args(argv)


@contextmanager
def metrics_off(app):
    """The app without anything the metrics add to a request."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from storefront import metrics

    class NoTimer:
        def mark(self, step):
            pass

    hooks = [
        (app.before_request_funcs[None], metrics._request_started),
        (app.after_request_funcs[None], metrics._request_answered),
    ]
    listeners = [
        (Engine, "before_cursor_execute", metrics._statement_starts),
        (Engine, "after_cursor_execute", metrics._statement_ends),
        (Session, "after_commit", metrics._committed),
        (Session, "after_soft_rollback", metrics._rolled_back),
    ]
    timer, committed = metrics.cart_timer, metrics.cart_committed
    for funcs, hook in hooks:
        funcs.remove(hook)
    for target, name, fn in listeners:
        event.remove(target, name, fn)
    metrics.cart_timer = NoTimer
    metrics.cart_committed = lambda timing, op, lines: None
    try:
        yield
    finally:
        metrics.cart_timer, metrics.cart_committed = timer, committed
        for target, name, fn in listeners:
            event.listen(target, name, fn)
        for funcs, hook in hooks:
            funcs.append(hook)


def isolated_cost(app, repeat: int = 20_000) -> tuple[float, float]:
    """The metrics' own work for one add, without the add: microseconds of CPU per add, with
    the calls an add makes (request hooks, STATEMENTS cursor events, the cart timer's four
    steps, the commit's count), and the same loop with nothing in it."""
    from flask import g

    from storefront import metrics
    from storefront.cart.ops import AddLine

    op = AddLine("line", "DEMO-0100", 1)

    class Answer:
        status_code = 200

    answer = Answer()
    with app.test_request_context("/api/v1/cart/lines", method="POST"):
        from flask import request

        request.url_rule = app.url_map._rules_by_endpoint["api.add_line"][0]
        started = time.thread_time()
        for _ in range(repeat):
            g.started = time.perf_counter()
            metrics._request_started()
            for _ in range(STATEMENTS):
                metrics._statement_starts(None, None, None, None, None, False)
                metrics._statement_ends(None, None, None, None, None, False)
            timing = metrics.cart_timer()
            for step in ("lock", "decide", "write", "commit"):
                timing.mark(step)
            metrics.cart_committed(timing, op, 10)
            metrics._request_answered(answer)
        with_metrics = time.thread_time() - started
        started = time.thread_time()
        for _ in range(repeat):
            g.started = time.perf_counter()
            for _ in range(STATEMENTS):
                pass
        empty = time.thread_time() - started
    return with_metrics / repeat * 1e6, empty / repeat * 1e6


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    args = parse_args(argv)
    folder = None
    if args.multiprocess:
        folder = tempfile.mkdtemp(prefix="bench-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # before prometheus-client is imported

    from bench.cart_ops import Keys, Shopper, dispose, new_shop, percentile

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"load average at start: {load_average()}")
    print(f"values: {'memory-mapped files (gunicorn)' if folder else 'in memory'}")
    directory = Path(tempfile.mkdtemp(prefix="bench-metrics-shop-"))
    samples = {"on": [], "off": []}
    try:
        app = new_shop(directory / "shop.db", Keys.new())
        skus = [f"DEMO-{n:04d}" for n in range(21, 21 + WARMUP + ADDS)]
        for round_ in range(args.rounds):
            for mode in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                shopper = Shopper(app)
                if mode == "off":
                    with metrics_off(app):
                        taken = [shopper.add(sku) for sku in skus]
                else:
                    taken = [shopper.add(sku) for sku in skus]
                samples[mode].extend(taken[WARMUP:])
        isolated, loop = isolated_cost(app)
        dispose(app)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    print(f"load average at end: {load_average()}")
    print(
        f"{args.rounds} rounds alternating, {ADDS} adds each (after {WARMUP} warm-up), "
        "a new line per add"
    )
    print(f"{'':14} {'n':>5} {'wall p50':>9} {'p90':>7} {'p99':>7} {'CPU p50':>8} {'p90':>7}")
    medians = {}
    for mode in ("off", "on"):
        wall = [s.wall_ns for s in samples[mode]]
        cpu = [s.cpu_ns for s in samples[mode]]
        medians[mode] = (percentile(wall, 0.5), percentile(cpu, 0.5))
        label = "metrics off" if mode == "off" else "metrics on"
        print(
            f"{label:14} {len(wall):>5} {percentile(wall, 0.5):>9.3f} {percentile(wall, 0.9):>7.3f} "
            f"{percentile(wall, 0.99):>7.3f} {percentile(cpu, 0.5):>8.3f} {percentile(cpu, 0.9):>7.3f}"
        )
    wall_cost = medians["on"][0] - medians["off"][0]
    cpu_cost = medians["on"][1] - medians["off"][1]
    print(
        f"cost of the metrics per add (p50 on - off): wall {wall_cost * 1000:+.0f} us "
        f"({wall_cost / medians['off'][0]:+.1%}), CPU {cpu_cost * 1000:+.0f} us "
        f"({cpu_cost / medians['off'][1]:+.1%})  [ms figures above]"
    )
    print(
        f"the metrics' own calls for one add, in isolation: {isolated - loop:.1f} us of CPU "
        f"({(isolated - loop) / 1000 / medians['off'][1]:.2%} of an add's CPU p50 without them)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
