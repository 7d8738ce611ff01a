"""Several instances of one shop for the end-to-end tests: a Redis of our own (so stopping it
disturbs nobody else's), a PostgreSQL database of our own (uniquely named, dropped afterwards),
and gunicorn processes sharing both, their secret and their encryption keys.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from e2e.conftest import LiveServer
from tests import daemons, dbs
from tests.ports import free_port

# Where the per-run database is created; the run makes and drops its own database there.
POSTGRES_URL = os.environ.get(
    "E2E_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/"
).strip()
REDIS_SERVER = os.environ.get("E2E_REDIS_SERVER", "redis-server")


def redis_server_binary() -> str | None:
    return shutil.which(REDIS_SERVER)


class RedisProcess:
    """``redis-server`` on a free port, in memory only (no RDB, no AOF), in its own process
    group. ``stop()`` kills it as a crash would; ``start()`` brings it back on the same port."""

    def __init__(self, binary: str, log_path: Path) -> None:
        self.binary = binary
        self.log_path = log_path
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        assert self.process is None, "already running"
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.process = daemons.start(
            [*command, "--save", "", "--appendonly", "no"],
            self.log_path,
            self.ping,
            lambda: f"see {self.log_path}",
        )

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGKILL: Redis goes away at once, connections and all, as in a crash."""
        process, self.process = self.process, None
        daemons.stop(process, signal.SIGKILL)


def postgres_available() -> str | None:
    """None if a database can be created at POSTGRES_URL, else why not."""
    from sqlalchemy import create_engine, make_url, text

    try:
        engine = create_engine(
            make_url(POSTGRES_URL).set(database="postgres"),
            connect_args={"connect_timeout": 3},
        )
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}: {exc})"
    return None


def create_database() -> str:
    return dbs.create_postgres_database(POSTGRES_URL, prefix="storefront_e2e")


drop_database = dbs.drop_postgres_database


class Cluster:
    """Two (or more) gunicorn instances of one shop: one database, one Redis, one prefix, one
    secret and one set of encryption keys; one worker process each."""

    def __init__(self, workdir: Path, artifacts: Path, database_url: str, redis: RedisProcess):
        self.redis = redis
        self.database_url = database_url
        shared = {
            "STOREFRONT_DATABASE_URL": database_url,
            "STOREFRONT_REDIS_URL": redis.url,
            "STOREFRONT_REDIS_PREFIX": f"e2e-{secrets.token_hex(6)}",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        }
        self.servers: list[LiveServer] = []
        for number in (1, 2):
            log = artifacts / f"instance{number}.log"
            log.write_text("")
            directory = workdir / f"instance{number}"
            directory.mkdir()
            self.servers.append(LiveServer(directory, log, env=shared, workers=1))

    def start(self) -> None:
        self.servers[0].prepare()  # db upgrade and demo, once, on the shared database
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
