#!/usr/bin/env python
"""What recording commerce events costs a cart add: the same adds with the events and without
them, interleaved one for one in one run on one shop.

Run from the repository root:

    .venv/bin/python bench/events.py                 # SQLite, 600 adds of each kind
    .venv/bin/python bench/events.py --adds 1000     # more samples

How it measures (the method of bench/cart_ops.py, whose helpers it uses):

- The real app on a fresh SQLite file (migrations, demo catalog), one guest shopper driven
  through the Flask test client with ``Prefer: return=minimal``; time in the server is read
  around the WSGI call (wall and the serving thread's CPU time).
- "Without events": ``cart_events.record_change``, the one call ``cart.store.write`` makes to
  record a change's events, replaced by a function that does nothing. Requests alternate
  with/without, so both see the same cart size, the same database and the same machine load.
- Two kinds of add: a new line (the first one also creates the cart: two events; the others
  one ``line_added``), and more units of a line already there (one ``quantity_changed``).
- The difference of the medians is the cost of the events; p99s are shown for the tails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cart_ops import (  # noqa: E402
    Keys,
    Sample,
    Shopper,
    dispose,
    new_shop,
    percentile,
    print_machine,
    quiet_app_logs,
)
from storefront.analytics import cart_events  # noqa: E402
from storefront.analytics.models import CommerceEvent  # noqa: E402
from storefront.extensions import db  # noqa: E402

FIRST_PLAIN_PRODUCT = 21  # DEMO-0001..0020 take options


def _no_events(*args, **kwargs) -> None:
    return None


class Recording:
    """``record_change`` itself, timed: the events' own cost inside each add, to the
    microsecond, which the machine's load blurs far less than a whole request's time."""

    def __init__(self):
        self.real = cart_events.record_change
        self.samples: list[Sample] = []

    def __call__(self, *args, **kwargs) -> None:
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        self.real(*args, **kwargs)
        self.samples.append(Sample(time.perf_counter_ns() - wall, time.thread_time_ns() - cpu))


def interleaved(adds, count: int) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """``adds(i)`` performs the i-th add; even ones with events, odd ones without. Returns
    the adds' times with and without, and the recording's own times."""
    recording = Recording()
    with_events, without = [], []
    try:
        for i in range(2 * count):
            on = i % 2 == 0
            cart_events.record_change = recording if on else _no_events
            (with_events if on else without).append(adds(i))
    finally:
        cart_events.record_change = recording.real
    return with_events, without, recording.samples


def row(name: str, samples: list[Sample]) -> tuple[str, float, float, float]:
    wall = [s.wall_ns for s in samples]
    cpu = [s.cpu_ns for s in samples]
    return name, percentile(wall, 0.5), percentile(wall, 0.99), percentile(cpu, 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adds", type=int, default=300, help="adds of each kind, per variant")
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        app = new_shop(Path(tmp) / "shop.db", Keys.new())
        quiet_app_logs()
        shopper = Shopper(app)
        new_lines = interleaved(
            lambda i: shopper.add(f"DEMO-{FIRST_PLAIN_PRODUCT + i:04d}", 1), args.adds
        )
        # The same lines again: one more unit each.
        more_units = interleaved(
            lambda i: shopper.add(f"DEMO-{FIRST_PLAIN_PRODUCT + i:04d}", 1), args.adds
        )
        with app.app_context():
            recorded = db.session.query(CommerceEvent).count()
        dispose(app)
    print(f"\nevents recorded: {recorded} (for {2 * args.adds} of the {4 * args.adds} adds)")
    print(
        "\nTime in the server per add, ms (interleaved one for one; the cart grows to "
        f"{2 * args.adds} lines)"
    )
    print(f"  {'add':<34} {'n':>5} {'p50':>8} {'p99':>8} {'cpu p50':>8}")
    for label, (on, off, own) in (("new line", new_lines), ("more units", more_units)):
        rows = [
            row(f"{label}, with events", on),
            row(f"{label}, without (baseline)", off),
            row(f"{label}: recording the events", own),
        ]
        for name, p50, p99, cpu in rows:
            print(f"  {name:<34} {len(on):>5} {p50:>8.3f} {p99:>8.3f} {cpu:>8.3f}")
        cost = rows[0][1] - rows[1][1]
        cpu_cost = rows[0][3] - rows[1][3]
        print(
            f"  {'':<34} {'':>5} events cost {cost:+.3f} ms p50 "
            f"({100 * cost / rows[1][1]:+.1f} %), {cpu_cost:+.3f} ms CPU p50"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
