"""Two versions of the shop under the same load, in alternating rounds: which is faster.

This machine's speed drifts by a third within a minute (a shared host): the load bench's ratio
moved from 0.40 to 0.53 between runs of the same code, so one run of each version cannot tell a
change of 5 % from the drift. Here both versions run at once, each a gunicorn with the
repository's config on a SQLite file of its own (or a PostgreSQL database and Redis prefix of
its own), and take turns under wrk (200 shoppers, 16 connections, as ``bench/over_http.py``'s
load section), A then B, then B then A, for a few seconds each: neighbouring rounds see the same
machine. Printed per round: requests a second, wrk's p99, the workers' CPU per request, and
the worker main threads' context switches per request (a worker whose requests all wait, on the
database lock say, sleeps in the hub).

    git worktree add /tmp/before HEAD~1
    .venv/bin/python bench/ab_load.py --a /tmp/before --b . --rounds 16 --seconds 3

A and B are checkouts (``git worktree``); the bench itself, the demo data and the migrations
come from this checkout.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench import over_http as load  # noqa: E402
from e2e import processes  # noqa: E402
from e2e.processes import Gunicorn, flask_cli  # noqa: E402


def context_switches(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if "ctxt_switches" in line:
                total += int(line.split()[1])
    return total


def start(label: str, checkout: Path, env: dict[str, str], work: Path, postgres: bool):
    if postgres:
        import psycopg

        name = f"ab_{label.lower()}_{secrets.token_hex(4)}"
        with psycopg.connect(common.POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        env = {
            **env,
            "STOREFRONT_DATABASE_URL": load.POSTGRES_URL.format(name=name),
            "STOREFRONT_REDIS_URL": common.REDIS_URL,
            "STOREFRONT_REDIS_PREFIX": f"bench-ab-{secrets.token_hex(6)}",
        }
    else:
        name = None
        env = {**env, "STOREFRONT_DATABASE_URL": f"sqlite:///{work / label}.db"}
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo")
    server = Gunicorn(env, work / f"{label}.log", stop_timeout=25)
    saved, processes.ROOT = processes.ROOT, checkout  # gunicorn starts in the checkout
    try:
        server.start()
    finally:
        processes.ROOT = saved
    script = work / f"{label}.lua"
    load.adding_shoppers(server.port, load.SHOPPERS, script, 1)
    return server, script, name, env.get("STOREFRONT_REDIS_PREFIX")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="checkout A")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis, not SQLite")
    parser.add_argument(
        "--cart-limit",
        default="100000/second",
        help="STOREFRONT_CART_RATE_LIMIT for both; 'default': the shop's own",
    )
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOREFRONT_", "BENCH_"))}
    env.update(
        PYTHONUNBUFFERED="1",
        STOREFRONT_SECRET_KEY=secrets.token_urlsafe(48),
        STOREFRONT_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
    )
    if args.cart_limit != "default":
        env["STOREFRONT_CART_RATE_LIMIT"] = args.cart_limit
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    started = {}
    results: dict[str, list[tuple[float, float, float, float]]] = {"A": [], "B": []}
    try:
        for label, checkout in (("A", args.a), ("B", args.b)):
            started[label] = start(label, checkout.resolve(), env, work, args.postgres)
        for server, script, _, _ in started.values():  # warm both
            load.run_wrk(server.url, script, 2, load.CONNECTIONS, 1)
        print(f"A = {args.a}, B = {args.b}; {args.rounds} rounds of {args.seconds} s each\n")
        for n in range(args.rounds):
            for label in ("A", "B") if n % 2 == 0 else ("B", "A"):
                server, script, _, _ = started[label]
                pids = server.worker_pids()
                switches = context_switches(pids)
                got = load.measured_run(
                    pids,
                    lambda server=server, script=script: load.run_wrk(
                        server.url, script, args.seconds, load.CONNECTIONS, 1
                    ),
                )
                count = got["requests"]
                cpu = (got["cpu_user"] + got["cpu_system"]) * 1000 / count
                per = (context_switches(pids) - switches) / count
                p99 = got["latency_us"]["p99"] / 1000
                results[label].append((got["rps"], cpu, per, p99))
                print(
                    f"round {n:2d} {label}: {got['rps']:7.0f} req/s, p99 {p99:6.1f} ms, workers "
                    f"{cpu:.3f} ms CPU a request, {per:.2f} context switches a request, "
                    f"5xx {got['5xx']}",
                    flush=True,
                )
    finally:
        for server, _, database, prefix in started.values():
            server.stop()
            if database:
                common.drop_database(database)
            if prefix:
                common.forget_redis_keys(prefix)
    pairs = list(zip(results["A"], results["B"], strict=True))
    wins = sum(1 for a, b in pairs if b[0] > a[0])
    ratios = [b[0] / a[0] for a, b in pairs]
    print()
    for label in ("A", "B"):
        rows = results[label]
        print(
            f"{label}: median {statistics.median(r[0] for r in rows):.0f} req/s, "
            f"p99 {statistics.median(r[3] for r in rows):.1f} ms, "
            f"{statistics.median(r[1] for r in rows):.3f} ms CPU a request"
        )
    print(
        f"B faster than A in {wins} of {len(pairs)} rounds; B / A req/s, median "
        f"{statistics.median(ratios):.3f} (range {min(ratios):.3f} to {max(ratios):.3f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
