"""What the benchmarks share: the machine's description, the open-file limit, and leaving the
shared PostgreSQL and Redis as they were found."""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def yardstick() -> str:
    """A fixed pure-Python loop's time, the best of 5: how fast this machine runs Python at the
    moment of the run. The CPU model does not tell it (the same model name has run three times
    slower on another day, docs/PERFORMANCE.md), so a figure compared across runs on different
    machines is read next to this one."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total, table = 0, {}
        for n in range(200_000):
            total += n * n % 7
            table[n & 1023] = total
        best = min(best, time.perf_counter() - started)
    return f"pure-Python yardstick (bench/common.py): {best * 1000:.0f} ms"


def lift_open_file_limit() -> None:
    """Thousands of sockets: one descriptor each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_redis_keys(prefix: str) -> None:
    """Delete the run's keys; Redis away is no reason to fail a bench's clean-up."""
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
