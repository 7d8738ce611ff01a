"""A server program a test runs for real (nginx, a Redis of its own): started in its own
process group with its output in a log, and waited for until it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

START_TIMEOUT = 15.0  # seconds for a server to answer once started


def start(
    command: list[str],
    log_path: Path,
    answers: Callable[[], bool],
    why: Callable[[], str],
    **popen,
) -> subprocess.Popen:
    """The running process, once ``answers()``; RuntimeError (with ``why()``: where to look)
    if it exits first or does not answer within START_TIMEOUT. ``popen``: ``cwd``, ``env``."""
    name = Path(command[0]).name
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **popen,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited while starting; {why()}")
        if answers():
            return process
        time.sleep(0.05)  # polling a process that is booting, not waiting on a page
    stop(process, signal.SIGKILL)
    raise RuntimeError(f"{name} did not answer within {START_TIMEOUT:.0f}s; {why()}")


def stop(process: subprocess.Popen | None, how: signal.Signals) -> None:
    """``how`` to the process's group; SIGKILL if it has not ended within 10 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, how)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
