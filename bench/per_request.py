"""What one cart add costs the worker in process: a profiling aid for issue 10's per-request
work, not a figure a shopper meets (bench/over_http.py measures those).

Twenty shoppers (a cookie and a CSRF token each) add 1 unit of one of 5 plain demo products,
round robin, through Flask's test client, in a process patched by gevent as gunicorn's gevent
worker is (``--threads`` to leave it unpatched). With ``--htmx`` each add is the product page's
form as htmx sends it (``POST /cart/lines``, form-encoded, ``HX-Request``), answered with the
change's HTML fragments, instead of the JSON API's ``Prefer: return=minimal``. Next to it, the
same loop against a bare Flask app (``bench/http_apps.py:bare_app``), as the baseline of the
run. It prints:

- CPU per request (process time, the best of ``--reps`` rounds of ``--adds``: the machine is
  shared, and the best round is the least disturbed);
- Python function calls per request under cProfile (deterministic: what a change to the
  per-request work removes or adds, whatever the machine's speed);
- with ``--pauses``, one add at a time after each idle pause given: the serving thread's CPU
  for an add next to a fixed pure-Python piece's after the same pause. A push's request comes
  to a worker that was idle since the last click; this shows what that idleness alone costs;
- with ``--https``, the shop's requests as they come behind TLS (an ``https`` URL and a page's
  Referer), where CSRF protection also checks the Referer (the bare app's stay plain).

    .venv/bin/python bench/per_request.py [--adds 3000] [--reps 3] [--threads] [--htmx]
        [--pauses 0,10,50,100] [--https]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
    .venv/bin/py-spy record -f raw -o adds.raw -- .venv/bin/python bench/per_request.py

The shop runs on a SQLite file in a temporary folder, or with ``--postgres`` on a database it
creates on that server and drops afterwards (``flask db upgrade`` and ``flask demo``; no Redis),
with generated keys and ``STOREFRONT_CART_RATE_LIMIT=100000/second``; its access lines are
written to /dev/null.
"""

from __future__ import annotations

import sys

if "--threads" not in sys.argv:
    from gevent import monkey

    monkey.patch_all()

import argparse
import base64
import contextlib
import cProfile
import itertools
import os
import pstats
import secrets
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from e2e.processes import flask_cli  # noqa: E402

SHOPPERS = 20
PRODUCTS = 5
FIRST_PLAIN = 21  # DEMO-0001..0020 need options
HTTP, HTTPS = "http://localhost", "https://localhost"
HTMX_HEADERS = {"HX-Request": "true", "HX-Current-URL": "http://localhost/products/DEMO-0021"}


def shop_clients(work: Path, database_url: str | None = None, base_url: str = HTTP):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_")},
        "STOREFRONT_DATABASE_URL": database_url or f"sqlite:///{work / 'shop.db'}",
        "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
        "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "STOREFRONT_CART_RATE_LIMIT": "100000/second",
        "STOREFRONT_MEDIA_DIR": str(work / "media"),
    }
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo")
    os.environ.update(env)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the access lines, for the whole run)
    from storefront import cooperative, create_app

    cooperative.wait_for_postgres_on_hub()  # as gunicorn.conf.py's workers do
    app = create_app()
    clients = []
    for _ in range(SHOPPERS):
        client = app.test_client()
        token = client.get("/api/v1/cart", base_url=base_url).headers["X-CSRF-Token"]
        headers = {"X-CSRF-Token": token, "Prefer": "return=minimal"}
        if base_url != HTTP:  # a page's request: over HTTPS the CSRF check reads its Referer
            headers["Referer"] = f"{base_url}/products/DEMO-{FIRST_PLAIN:04d}"
        clients.append((client, headers))
    return clients


def bare_clients():
    from bench.http_apps import bare_app

    return [(bare_app().test_client(), {}) for _ in range(SHOPPERS)]


def adds(clients, path: str, htmx: bool = False, base_url: str = HTTP):
    made = itertools.count()  # the round robin goes on from one call to the next

    def run(count: int) -> None:
        for n in itertools.islice(made, count):
            client, headers = clients[n % SHOPPERS]
            sku = f"DEMO-{FIRST_PLAIN + (n // SHOPPERS) % PRODUCTS:04d}"
            if htmx:
                answer = client.post(
                    path,
                    data={"sku": sku, "quantity": "1"},
                    headers=HTMX_HEADERS | headers,
                    base_url=base_url,
                )
            else:
                answer = client.post(
                    path, json={"sku": sku, "quantity": 1}, headers=headers, base_url=base_url
                )
            assert answer.status_code in (200, 201), (answer.status_code, answer.data[:200])

    return run


@contextlib.contextmanager
def _database(server_url: str | None):
    """None (SQLite), or a fresh database on that PostgreSQL server, dropped afterwards."""
    if not server_url:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_per_request_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:  # FORCE: the shop's pooled connections are still open
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(run, count: int, reps: int) -> tuple[float, float]:
    run(min(count, 300))  # warm: caches, the opened carts, the first statements' plans
    best = min(_cpu_ms(run, count) for _ in range(reps))
    profile = cProfile.Profile()
    profile.enable()
    run(1000)
    profile.disable()
    return best, pstats.Stats(profile).total_calls / 1000


def _cpu_ms(run, count: int) -> float:
    started = time.process_time()
    run(count)
    return (time.process_time() - started) / count * 1000


def _python_piece() -> None:
    """A fixed pure-Python loop (about a tenth of an add): the pauses' baseline."""
    total, table = 0, {}
    for n in range(3000):
        total += n * n % 7
        table[n & 1023] = total


def _thread_cpu_ms(call) -> float:
    started = time.thread_time()
    call()
    return (time.thread_time() - started) * 1000


def paced(run, pauses_ms: list[float], samples: int) -> list[tuple[float, float, float]]:
    """(pause, median CPU ms of one add after it, median CPU ms of the pure-Python piece after
    the same pause), for each pause: what a request costs a worker that sat idle before it, as
    a push's request meets it (one click now and then) and unlike a loop of adds."""
    rows = []
    for pause in pauses_ms:
        shop, piece = [], []
        for _ in range(samples):
            time.sleep(pause / 1000)
            shop.append(_thread_cpu_ms(lambda: run(1)))
            time.sleep(pause / 1000)
            piece.append(_thread_cpu_ms(_python_piece))
        rows.append((pause, statistics.median(shop), statistics.median(piece)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adds", type=int, default=3000, help="adds per round")
    parser.add_argument("--reps", type=int, default=3, help="rounds; the best is reported")
    parser.add_argument("--threads", action="store_true", help="no gevent patch")
    parser.add_argument(
        "--htmx", action="store_true", help="add through the product page's form, as htmx does"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="the shop on a database this bench creates (and drops) on this server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres (no Redis)",
    )
    parser.add_argument(
        "--pauses",
        metavar="MS,MS,...",
        help="also: one add at a time after each of these idle pauses (e.g. 0,10,50,100), "
        "the median CPU of an add next to a fixed pure-Python piece's after the same pause",
    )
    parser.add_argument(
        "--https",
        action="store_true",
        help="the shop's requests as behind TLS (https, with a page's Referer), as deployed",
    )
    parser.add_argument("--pause-samples", type=int, default=200, help="adds per pause")
    args = parser.parse_args()
    pauses = [float(ms) for ms in args.pauses.split(",")] if args.pauses else []
    with tempfile.TemporaryDirectory(prefix="bench-per-request-") as folder:
        with _database(args.postgres) as database_url:
            base_url = HTTPS if args.https else HTTP
            clients = shop_clients(Path(folder), database_url, base_url)
            shop_path = "/cart/lines" if args.htmx else "/api/v1/cart/lines"
            shop_adds = adds(clients, shop_path, args.htmx, base_url)
            shop = measure(shop_adds, args.adds, args.reps)
            after_pauses = paced(shop_adds, pauses, args.pause_samples)
        bare = measure(adds(bare_clients(), "/api/v1/cart/lines"), args.adds, args.reps)
    mode = "threads (unpatched)" if args.threads else "gevent-patched"
    where = "PostgreSQL" if args.postgres else "SQLite"
    where += ", over https (as behind TLS)" if args.https else ""
    print(
        f"# bench/per_request.py: {SHOPPERS} shoppers, {args.adds} adds a round, {mode}, {where}\n"
    )
    print("| | CPU ms per request (best round) | Python calls per request |")
    print("| --- | --- | --- |")
    print(f"| baseline: bare Flask `POST` (JSON body) | {bare[0]:.3f} | {bare[1]:,.0f} |")
    how = "the product page's form through htmx" if args.htmx else "`Prefer: return=minimal`"
    print(f"| shop: add 1 unit ({how}) | {shop[0]:.3f} | {shop[1]:,.0f} |")
    print(f"| shop / baseline | {shop[0] / bare[0]:.1f} x | {shop[1] / bare[1]:.1f} x |")
    if after_pauses:
        print(f"\nOne add at a time after an idle pause ({args.pause_samples} each; medians of")
        print("the serving thread's CPU; the same pause before the pure-Python piece):\n")
        print(
            "| idle pause before | shop: add 1 unit | × the first row's | pure-Python piece "
            "| × the first row's |"
        )
        print("| --- | --- | --- | --- | --- |")
        _, first_add, first_piece = after_pauses[0]
        for pause, add_ms, piece_ms in after_pauses:
            print(
                f"| {pause:g} ms | {add_ms:.2f} ms | {add_ms / first_add:.2f} "
                f"| {piece_ms:.3f} ms | {piece_ms / first_piece:.2f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
