"""Ports for the servers the tests start (gunicorn, nginx, an SMTP server).

Picked below the kernel's ephemeral range: a port from that range (what binding port 0 gives)
may be taken as the source port of any outgoing connection, a browser's or a database
client's, between being picked and being bound, or while its server is stopped to be started
again on it. CI saw gunicorn fail to start on "Address already in use" that way."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOWEST = 20_000
_given: set[int] = set()
_lock = threading.Lock()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port of 127.0.0.1 that nothing holds now and that this process has not handed out."""
    high = _ephemeral_low()
    with _lock:
        if high - LOWEST >= 1_000:
            for _ in range(200):
                port = random.randrange(LOWEST, high)
                if port not in _given and _bindable(port):
                    _given.add(port)
                    return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # a narrowed range
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        _given.add(port)
        return port
