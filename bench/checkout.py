#!/usr/bin/env python
"""Placing orders over HTTP through gunicorn, next to a cart add and a bare Flask request.

Run from the repository root (loopback only, about a minute):

    .venv/bin/python bench/checkout.py              # embedded SQLite, as scripts/run serves
    .venv/bin/python bench/checkout.py --postgres   # also PostgreSQL + Redis

The shop runs exactly as ``bench/over_http.py`` runs it (``gunicorn wsgi:app`` from the
repository root, its gunicorn.conf.py, a database and keys of the bench's own), with
``STOREFRONT_PAYMENT_PROVIDERS=test`` and the rate limits lifted (they still run). Products:
``BENCH-PLENTY-<n>`` with a million units each, ``BENCH-LAST`` with ``--last`` units.

1. Latency, one shopper on one keep-alive connection, interleaved request by request: 100
   rounds of {bare Flask ``POST /``; add one unit to the cart; place the order with the
   ``test`` provider (``POST /api/v1/checkout/complete``, a fresh ``Idempotency-Key``)}. The
   shopper's checkout details were set once before (they stay with the cart).
2. Throughput: ``--threads`` connections, each its own shopper, each repeating add-then-place
   for ``--duration`` seconds: orders and adds per second, latencies, 5xx.
3. The race: ``--shoppers`` shoppers (default 200), each with one ``BENCH-LAST`` in the cart,
   all press "place order" at once over ``--threads`` connections: exactly ``--last`` orders
   must be placed, every other answer ``409 out_of_stock``, the stock must end at 0 and the
   stock ledger must agree (``stock-check``).
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    POSTGRES_ADMIN,
    REDIS_URL,
    cpu_model,
    drop_database,
    forget_redis_keys,
    yardstick,
)
from bench.over_http import POSTGRES_URL, Shopper, expect, pct, table, uptime  # noqa: E402
from e2e.processes import Gunicorn, flask_cli  # noqa: E402

ADDRESS = {
    "name": "Bench Shopper",
    "address_line1": "1 Loop Road",
    "city": "Localhost",
    "postal_code": "127",
    "country": "US",
}
PAY = {"payment": {"provider": "test", "token": "tok_ok"}}
PLENTY = 50


def catalog(path: Path, last: int) -> None:
    rows = ["sku,name,price,stock"]
    rows += [f"BENCH-PLENTY-{n},Plenty {n},4.99,1000000" for n in range(PLENTY)]
    rows.append(f"BENCH-LAST,The last units,19.99,{last}")
    path.write_text("\n".join(rows) + "\n")


def ready(port: int, n: int, sku: str | None = None) -> Shopper:
    shopper = Shopper(port)
    status, _, data, _ = shopper.request("GET", "/api/v1/cart")
    expect(status, data, "GET /api/v1/cart")
    details = {"email": f"bench{n}@example.com", "address": ADDRESS, "shipping_method": "standard"}
    add(shopper, sku or "BENCH-PLENTY-0")  # details are kept with a cart: it needs one
    status, _, data, _ = shopper.request("PUT", "/api/v1/checkout", details)
    expect(status, data, "PUT /api/v1/checkout")
    return shopper


def add(shopper: Shopper, sku: str) -> float:
    status, _, data, took = shopper.request(
        "POST", "/api/v1/cart/lines", {"sku": sku, "quantity": 1}, {"Prefer": "return=minimal"}
    )
    expect(status, data, "add")
    return took


def place(shopper: Shopper) -> tuple[int, float, bytes]:
    key = {"Idempotency-Key": secrets.token_urlsafe(12)}
    status, _, data, took = shopper.request("POST", "/api/v1/checkout/complete", PAY, key)
    return status, took, data


def row(name: str, values: list[float]) -> list[str]:
    return [name, str(len(values)), f"{pct(values, 50):.2f}", f"{pct(values, 99):.2f}"]


def latency(shop: Gunicorn, bare: Gunicorn, rounds: int) -> None:
    print(f"\n## 1. Latency: {rounds} rounds on one connection (ms)\n", flush=True)
    shopper = ready(shop.port, 0)
    expect(*place(shopper)[::2], "the first order")
    baseline = Shopper(bare.port)
    times: dict[str, list[float]] = {"bare": [], "add": [], "place": []}
    for n in range(rounds + 10):  # the first ten warm up and are not counted
        _, _, _, bare_ms = baseline.request("POST", "/", {"sku": "X", "quantity": 1})
        add_ms = add(shopper, f"BENCH-PLENTY-{n % PLENTY}")
        status, place_ms, data = place(shopper)
        expect(status, data, "place order")
        if n >= 10:
            times["bare"].append(bare_ms)
            times["add"].append(add_ms)
            times["place"].append(place_ms)
    table(
        ["request", "n", "p50", "p99"],
        [
            row("baseline: bare Flask `POST /`", times["bare"]),
            row("add one unit (return=minimal)", times["add"]),
            row("place the order (test provider)", times["place"]),
        ],
    )


def throughput(shop: Gunicorn, threads: int, seconds: float) -> None:
    print(f"\n## 2. Throughput: {threads} shoppers adding then ordering for {seconds:.0f} s\n")
    shoppers = [ready(shop.port, 1000 + n) for n in range(threads)]
    for shopper in shoppers:
        expect(*place(shopper)[::2], "the first order")
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    adds: list[float] = []
    orders: list[float] = []
    failures: list[str] = []

    def work(n: int) -> None:
        shopper = shoppers[n]
        while time.monotonic() < deadline:
            add_ms = add(shopper, f"BENCH-PLENTY-{n % PLENTY}")
            status, place_ms, data = place(shopper)
            with lock:
                adds.append(add_ms)
                if status == 201:
                    orders.append(place_ms)
                else:
                    failures.append(f"{status} {data[:120]!r}")

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    took = time.monotonic() - started
    table(
        ["what", "per second", "p50 ms", "p99 ms"],
        [
            [
                "orders placed",
                f"{len(orders) / took:.1f}",
                f"{pct(orders, 50):.1f}",
                f"{pct(orders, 99):.1f}",
            ],
            ["adds", f"{len(adds) / took:.1f}", f"{pct(adds, 50):.1f}", f"{pct(adds, 99):.1f}"],
        ],
    )
    print(
        f"{len(orders)} orders, {len(failures)} failed" + (f": {failures[:3]}" if failures else "")
    )


def race(shop: Gunicorn, env: dict, shoppers_count: int, last: int, threads: int) -> bool:
    print(f"\n## 3. The race: {shoppers_count} shoppers for the last {last} units\n", flush=True)
    shoppers = [ready(shop.port, 2000 + n, "BENCH-LAST") for n in range(shoppers_count)]
    barrier = threading.Barrier(threads)
    results: list[tuple[int, float, bytes]] = []

    def press(n: int) -> tuple[int, float, bytes]:
        if n < threads:
            barrier.wait()
        return place(shoppers[n])

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(press, range(shoppers_count)))
    took = time.monotonic() - started
    statuses = [s for s, _, _ in results]
    placed = statuses.count(201)
    refused = sum(1 for s, _, d in results if s == 409 and b"out_of_stock" in d)
    errors = sum(1 for s in statuses if s >= 500)
    check = flask_cli_output(env, "stock-check")
    ok = (
        placed == last and refused == shoppers_count - last and errors == 0 and "0 product" in check
    )
    table(
        ["answers", "count"],
        [
            ["201 order placed", str(placed)],
            ["409 out_of_stock", str(refused)],
            ["5xx", str(errors)],
            ["other", str(shoppers_count - placed - refused - errors)],
        ],
    )
    latencies = [t for _, t, _ in results]
    print(
        f"all {shoppers_count} answered in {took * 1000:.0f} ms ({shoppers_count / took:.0f} "
        f"checkouts/s); p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms; "
        f"`stock-check`: {check.strip().splitlines()[-1]}; "
        f"{'PASS' if ok else '**FAIL**'}: exactly {last} orders, never oversold",
        flush=True,
    )
    return ok


def flask_cli_output(env: dict, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "storefront", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def run(title: str, env: dict, work: Path, args) -> bool:
    print(f"\n# {title}", flush=True)
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo")
    csv = work / "bench-catalog.csv"
    catalog(csv, args.last)
    flask_cli(env, "import-products", str(csv))
    shop = Gunicorn(env, work / "shop.log")
    bare = Gunicorn(env, work / "bare.log", app="bench.http_apps:bare_app()")
    try:
        shop.start()
        bare.start()
        latency(shop, bare, args.rounds)
        throughput(shop, args.threads, args.duration)
        return race(shop, env, args.shoppers, args.last, args.threads)
    finally:
        shop.stop()
        bare.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="also PostgreSQL + Redis")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--last", type=int, default=50)
    args = parser.parse_args()
    print("# bench/checkout.py: placing orders over HTTP through gunicorn\n")
    print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}); uptime at start: `{uptime()}`")
    print(f"- {yardstick()}")
    work = Path(tempfile.mkdtemp(prefix="bench-checkout-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOREFRONT_", "BENCH_"))}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "STOREFRONT_CART_RATE_LIMIT": "100000/second",
            "STOREFRONT_CHECKOUT_RATE_LIMIT": "100000/second",
            "STOREFRONT_PAYMENT_PROVIDERS": "test",
        }
    )
    ok = run(
        "Embedded SQLite",
        {**env, "STOREFRONT_DATABASE_URL": f"sqlite:///{work / 'shop.db'}"},
        work,
        args,
    )
    database, prefix = None, f"bench-checkout-{secrets.token_hex(6)}"
    try:
        if args.postgres:
            import psycopg

            database = f"bench_checkout_{os.getpid()}_{secrets.token_hex(4)}"
            with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{database}"')
            pg_env = {
                **env,
                "STOREFRONT_DATABASE_URL": POSTGRES_URL.format(name=database),
                "STOREFRONT_REDIS_URL": REDIS_URL,
                "STOREFRONT_REDIS_PREFIX": prefix,
            }
            ok = run("PostgreSQL + Redis", pg_env, work, args) and ok
    finally:
        if database:
            drop_database(database)
            forget_redis_keys(prefix)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nuptime at end: `{uptime()}`")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
