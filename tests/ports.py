"""Ports for the servers the tests start (gunicorn, nginx, an SMTP server).

Picked below the kernel's ephemeral range: a port from that range (what binding port 0 gives)
may be taken as the source port of any outgoing connection, a browser's or a database
client's, between being picked and being bound, or while its server is stopped to be started
again on it. CI saw gunicorn fail to start on "Address already in use" that way.

The SQLite and PostgreSQL runs go side by side (scripts/test), so each port handed out is also
reserved across processes: a lock on a file named after it, held until this process ends (the
kernel lets go of it even after a crash). A server stopped and started again on its port (the
SMTP server going down and coming back) keeps it."""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
import tempfile
import threading
from pathlib import Path

LOWEST = 20_000
_held: dict[int, int] = {}  # port -> the descriptor of its lock file
_lock = threading.Lock()
_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
_FOLDER = Path(tempfile.gettempdir()) / "storefront-test-ports"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((host, port))
        except OSError as exc:
            if family == socket.AF_INET6 and exc.errno in _NO_IPV6:
                continue
            return False
    return True


def _reserve(port: int) -> bool:
    """Whether this process now holds ``port`` (no other test process does)."""
    _FOLDER.mkdir(mode=0o777, exist_ok=True)
    fd = os.open(_FOLDER / str(port), os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held[port] = fd
    return True


def free_port() -> int:
    """A port of 127.0.0.1 (and ::1) that nothing holds now and no other test process has."""
    low = _ephemeral_low()
    ranges = [(LOWEST, low)] if low - LOWEST >= 1_000 else [(1_024, low), (61_000, 65_536)]
    with _lock:
        for _ in range(500):
            start, end = random.choice([r for r in ranges if r[1] - r[0] > 0])
            port = random.randrange(start, end)
            if port in _held or not _bindable(port):
                continue
            if _reserve(port):
                return port
    raise RuntimeError("no free port for a test server below the ephemeral range")
