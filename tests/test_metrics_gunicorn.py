"""/metrics under gunicorn with two workers, as deployed: gunicorn.conf.py makes the metrics
folder before the workers start, whichever worker answers a scrape sums both, a worker that
dies stops counting its open sockets, and the folder is gone when the server stops."""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import secrets
import signal
import struct
import time
import urllib.request
from pathlib import Path

import pytest
import simple_websocket
from prometheus_client.multiprocess import MultiProcessCollector

from e2e import processes
from e2e.processes import Gunicorn, flask_cli
from tests.live import HttpShopper, open_page_socket
from tests.metrics_text import parse, value

HEALTH = {"route": "/healthz", "method": "GET", "status": "200"}
COUNT = "storefront_http_request_duration_seconds_count"
MAX_REQUESTS = 400


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for this module (its start is most of the time): the test that kills a
    worker comes last."""
    tmp_path = tmp_path_factory.mktemp("metrics")
    env = {
        **os.environ,
        "STOREFRONT_DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(32),
        "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "STOREFRONT_MEDIA_DIR": str(tmp_path / "media"),
        "STOREFRONT_CART_RATE_LIMIT": "1000/second",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(tmp_path / "tmp"),
    }
    for name in (
        "STOREFRONT_REDIS_URL",
        "STOREFRONT_BIND",
        "STOREFRONT_WORKERS",
        "STOREFRONT_METRICS_TOKEN",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        env.pop(name, None)
    (tmp_path / "tmp").mkdir()
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "demo")
    gunicorn = Gunicorn(env, tmp_path / "gunicorn.log", workers=2, stop_timeout=60)
    # Two workers importing the app at once on a shared, loaded machine can take longer than
    # the browser tests' single server is given.
    usual, processes.START_TIMEOUT = processes.START_TIMEOUT, 120.0
    try:
        gunicorn.start()
    finally:
        processes.START_TIMEOUT = usual
    try:
        yield gunicorn
    finally:
        gunicorn.stop()


def scrape(server: Gunicorn):
    with urllib.request.urlopen(server.url + "/metrics", timeout=30) as response:
        assert response.status == 200
        return parse(response.read().decode())


def metrics_folder(server: Gunicorn) -> Path:
    """The folder gunicorn.conf.py made: in this server's own temporary directory."""
    made = list(Path(server.env["TMPDIR"]).glob("storefront-metrics-*"))
    assert len(made) == 1, made
    return made[0]


def own_count(folder: Path, kind: str, pid: int, name: str, **labels: str) -> float:
    """One worker's own value, from its own file only."""
    path = folder / f"{kind}_{pid}.db"
    if not path.exists():
        return 0.0
    for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
        for sample in metric.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def replacement(server: Gunicorn, dead: int, folder: Path) -> None:
    """Until the worker started in place of ``dead`` answers requests itself."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = server.worker_pids()
        if len(workers) == 2 and dead not in workers:
            health_check(server)
            if all(own_count(folder, "histogram", pid, COUNT, **HEALTH) for pid in workers):
                return
        time.sleep(0.05)  # polling a process that is starting, as Gunicorn.start does
    raise AssertionError(f"no replacement for worker {dead} answered: {server.log_tail()}")


def health_check(server: Gunicorn) -> None:
    # A new connection each time: the kernel hands each to whichever worker accepts first.
    with urllib.request.urlopen(server.url + "/healthz", timeout=30) as response:
        assert response.status == 200


def test_two_workers_counts_are_summed_and_start_at_zero(server):
    first = scrape(server)
    # Nothing has happened yet: the contract's series are there, at zero.
    for op in ("add", "set_quantity", "remove", "merge"):
        assert value(first, "storefront_cart_changes_total", op=op) == 0
    assert value(first, "storefront_orders_total", status="paid") == 0
    assert value(first, "storefront_payments_total", provider="manual", outcome="captured") == 0
    assert value(first, "storefront_emails_total", kind="order", outcome="sent") == 0
    assert value(first, "storefront_out_of_stock_refusals_total") == 0
    assert value(first, "storefront_push_seconds_count") == 0
    assert value(first, "storefront_open_sockets") == 0
    assert value(first, "storefront_jobs_pending", task="email") == 0
    assert value(first, COUNT, **HEALTH) >= 1  # gunicorn's start waited on it

    workers = server.worker_pids()
    assert len(workers) == 2
    folder = metrics_folder(server)
    assert {p.name for p in folder.iterdir()} >= {f"counter_{pid}.db" for pid in workers}

    # Health checks until each worker has answered some itself.
    made = 0
    while made < MAX_REQUESTS and not all(
        own_count(folder, "histogram", pid, COUNT, **HEALTH) > 0 for pid in workers
    ):
        health_check(server)
        made += 1
    mine = {pid: own_count(folder, "histogram", pid, COUNT, **HEALTH) for pid in workers}
    assert all(mine.values()), f"one worker answered none of {made} requests: {mine}"

    shoppers = [HttpShopper(server.url) for _ in range(6)]
    for shopper in shoppers:
        status, _ = shopper.call("POST", "/cart/lines", {"sku": "DEMO-0100", "quantity": 1})
        assert status == 200

    summed = scrape(server)
    assert value(summed, COUNT, **HEALTH) == sum(mine.values())
    assert value(summed, COUNT, **HEALTH) - value(first, COUNT, **HEALTH) == made
    assert value(summed, "storefront_cart_changes_total", op="add") == len(shoppers)
    adds = {
        pid: own_count(folder, "counter", pid, "storefront_cart_changes_total", op="add")
        for pid in workers
    }
    assert sum(adds.values()) == len(shoppers)
    assert value(summed, COUNT, route="/api/v1/cart/lines", method="POST", status="200") == 6


def connections_held(pid: int, port: int) -> int:
    """Established connections to ``port`` that the process holds (from /proc, no tools)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    held = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
            held += 1
    return held


def test_connections_opened_at_once_are_spread_over_the_workers(server):
    """storefront/listener.py: a burst of connections is not all taken by whichever worker
    happened to be awake (16 at once went 15 / 1 before the workers took turns)."""
    connections = [
        http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(16)
    ]
    try:
        for connection in connections:  # all queued at once, as a load client opens them
            connection.connect()
        for connection in connections:
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
        held = sorted(
            (connections_held(pid, server.port) for pid in server.worker_pids()), reverse=True
        )
    finally:
        for connection in connections:
            connection.close()
    assert sum(held) == 16 and held[0] <= 11, held


def held_by_workers(server: Gunicorn) -> int:
    (listeners,) = Path(server.env["TMPDIR"]).glob("storefront-listeners-*")
    return sum(struct.unpack("q", path.read_bytes()[:8])[0] for path in listeners.iterdir())


def test_a_dead_workers_sockets_stop_counting_and_the_folder_goes_with_the_server(server):
    shopper = HttpShopper(server.url)
    page = open_page_socket(server.url, shopper.cookie)
    try:
        assert "hello" in page.receive(timeout=10)
        assert value(scrape(server), "storefront_open_sockets") == 1
        # An open page's socket is not a connection its worker counts when taking turns
        # (storefront/listener.py): only the scrapes did, and they are closed.
        deadline = time.monotonic() + 10
        while held_by_workers(server) != 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the workers see the scrapes' connections close
        assert held_by_workers(server) == 0
        workers = server.worker_pids()
        folder = metrics_folder(server)
        holder = next(
            pid
            for pid in workers
            if own_count(folder, "gauge_livesum", pid, "storefront_open_sockets") == 1
        )
        health_before = value(scrape(server), COUNT, **HEALTH)
        os.kill(holder, signal.SIGKILL)  # no goodbye: its worker never closes the socket
        deadline = time.monotonic() + 15
        with contextlib.suppress(simple_websocket.ConnectionClosed):
            while page.connected and time.monotonic() < deadline:
                page.receive(timeout=1)
        assert not page.connected
    finally:
        if page.connected:
            page.close()
    # The arbiter ran child_exit for the dead worker before it started the replacement.
    replacement(server, holder, folder)
    after = scrape(server)
    assert value(after, "storefront_open_sockets") == 0
    # What the dead worker counted still counts.
    assert value(after, COUNT, **HEALTH) >= health_before
    listeners = list(Path(server.env["TMPDIR"]).glob("storefront-listeners-*"))
    assert len(listeners) == 1 and len(list(listeners[0].iterdir())) == 2  # one per worker
    server.stop()
    assert not folder.exists() and not listeners[0].exists()
