"""What the browser tests and the push benchmark both run: gunicorn serving the shop from the
repository root, each in a process group of its own, started when ``/healthz`` answers and
stopped gracefully (SIGTERM to the group, as a process manager would); and Chromium's flags.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
# Debian's Chromium as root, kept off the network it cannot reach here.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 30.0  # seconds for gunicorn to answer /healthz
STOP_TIMEOUT = 15.0


def flask_cli(env: dict[str, str], *args: str, timeout: float = 180) -> None:
    """``flask --app storefront ARGS`` (``db upgrade``, ``demo``, ``users ...``) with ``env``."""
    command = [sys.executable, "-m", "flask", "--app", "storefront", *args]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[1:])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


class Gunicorn:
    """``gunicorn APP`` on a free port of 127.0.0.1, its output appended to ``log_path``.

    ``tls``: the context that trusts the server's certificate, when it serves HTTPS (the
    certificate itself comes from ``env``, see gunicorn.conf.py)."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        workers: int | None = None,
        options: list[str] | None = None,
        app: str = "wsgi:app",
        tls: ssl.SSLContext | None = None,
        stop_timeout: float = STOP_TIMEOUT,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.options = options or []  # more command-line options (a bench's own config file)
        self.app = app
        self.tls = tls
        self.stop_timeout = stop_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None, "already running"
        command = [sys.executable, "-m", "gunicorn", self.app, "-b", f"127.0.0.1:{self.port}"]
        if self.workers is not None:
            command += ["-w", str(self.workers)]
        command += self.options
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped without touching ours
            )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last_error: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"gunicorn exited while starting; log:\n{self.log_tail()}")
            try:
                # Waited on until the deadline, not given up on after a few seconds: gunicorn's
                # socket takes the connection at once, and a request given up on while the
                # workers boot is still answered later, one more /healthz in the metrics than
                # a test that reads them right after the start expects (seen on a slow machine).
                remaining = max(0.1, deadline - time.monotonic())
                with urllib.request.urlopen(
                    f"{self.url}/healthz", timeout=remaining, context=self.tls
                ) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError) as exc:
                last_error = exc
            time.sleep(0.05)  # polling a process that is booting, not waiting on a page
        self.stop()
        raise RuntimeError(
            f"gunicorn did not answer {self.url}/healthz within {START_TIMEOUT:.0f}s "
            f"(last: {last_error}); log:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # SIGTERM: gunicorn's graceful shutdown of its own process group (arbiter and workers).
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=self.stop_timeout)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
