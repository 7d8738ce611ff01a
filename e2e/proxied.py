"""The shop as the deploy kit runs it: two gunicorn instances of one shop (one SQLite file, one
secret, one set of keys, one media folder, rate limits in one Redis under a prefix of this run)
behind the shipped nginx site (deploy/nginx/storefront.conf, rendered by tests/nginx.py) that
terminates TLS with a certificate made on the spot.

The instances trust one proxy hop (STOREFRONT_PROXY_HOPS=1) and devices talk to nginx only,
sending nothing of their own in X-Forwarded-For: what the app sees is what nginx says.
Stopping an instance here is what systemd does (deploy/systemd/storefront-web@.service,
KillMode=mixed): SIGTERM to gunicorn's master alone, which stops its workers gracefully.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from e2e.conftest import ARTIFACTS, IN_CI, WAIT_MS, LiveServer
from tests.certificates import make_certificate
from tests.nginx import Nginx, SiteValues, nginx_binary
from tests.ports import free_port

REDIS_URL = os.environ.get("STOREFRONT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# nginx's access log, as tests read it: status, the upstream that answered ("-": nginx itself)
# and the request line.
LOG_FORMAT = '$status $upstream_addr $upstream_status "$request"'


def redis_problem() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis not reachable at {REDIS_URL} ({type(exc).__name__}: {exc})"
    return None


# systemd's TimeoutStopSec for a web unit: gunicorn's graceful_timeout (20 s) and a margin.
STOP_SECONDS = 30.0


class Instance(LiveServer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout = STOP_SECONDS

    def stop_gracefully(self) -> None:
        """SIGTERM to gunicorn's master only, as systemd stops the unit; waits for it to exit."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=self.stop_timeout)
            raise AssertionError(
                f"{self.url} did not stop gracefully:\n{self.log_tail()}"
            ) from None

    def rolling_restart(self) -> None:
        self.stop_gracefully()
        self.start()  # returns once /healthz answers

    def reload(self) -> list[int]:
        """``systemctl reload``: HUP to the master. Returns the workers it had before."""
        before = self.worker_pids()
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGHUP)
        return before


@dataclass
class ProxiedShop:
    nginx: Nginx
    instances: list[Instance]
    http_port: int
    workdir: Path
    media_dir: Path
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nginx.url

    def access_lines(self) -> list[tuple[int, str, str]]:
        """(status, upstream, request line) of every request nginx logged so far."""
        lines = []
        for line in self.nginx.access_log().splitlines():
            found = re.match(r'(\d{3}) (\S+(?:, \S+)*) (\S+(?:, \S+)*) "(.*)"$', line)
            if found:
                lines.append((int(found[1]), found[2], found[4]))
        return lines

    def logs(self) -> str:
        return "\n".join(
            [self.nginx.log_tail()] + [f"--- {i.url}\n{i.log_tail()}" for i in self.instances]
        )


def start_proxied_shop(tmp_path_factory, name: str) -> Iterator[ProxiedShop | str]:
    """The generator behind a module's fixture: yields the running shop, or (CI=true only)
    why it cannot run, for the test to fail with. Locally a missing requirement skips."""
    problems = []
    binary = nginx_binary()
    if binary is None:
        problems.append("nginx not found (apt-get install nginx, or scripts/setup --dev)")
    problem = redis_problem()
    if problem:
        problems.append(problem)
    if problems:
        if not IN_CI:
            pytest.skip("; ".join(problems))
        yield "; ".join(problems) + " (CI=true: end-to-end tests must run, never skip)"
        return

    workdir = tmp_path_factory.mktemp(name)
    cert, key = make_certificate(workdir)
    media = workdir / "media"
    media.mkdir()
    shared = {
        "STOREFRONT_DATABASE_URL": f"sqlite:///{workdir / 'shop.db'}",
        "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
        "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "STOREFRONT_MEDIA_DIR": str(media),
        "STOREFRONT_REDIS_URL": REDIS_URL,
        "STOREFRONT_REDIS_PREFIX": f"e2e-{name}-{secrets.token_hex(6)}",
        "STOREFRONT_PUBLIC_URL": "https://127.0.0.1",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    instances = []
    for number in (1, 2):
        log = ARTIFACTS / f"{name}-instance{number}.log"
        log.write_text("")
        directory = workdir / f"instance{number}"
        directory.mkdir()
        instances.append(Instance(directory, log, env=shared, workers=1))
    http_port = free_port()
    values = SiteValues(
        upstreams=[i.port for i in instances],
        https_port=free_port(),
        http_port=http_port,
        certificate=cert,
        key=key,
        media_dir=media,
        acme_root=workdir / "acme",
    )
    nginx = Nginx(binary, workdir / "nginx", values)
    # The test's own access log format (the main config is the test's, the site the shipped one).
    nginx.config.write_text(
        nginx.config.read_text()
        .replace(
            "    access_log ",
            f"    log_format storefront_test '{LOG_FORMAT}';\n    access_log ",
        )
        .replace("access.log;", "access.log storefront_test;")
    )
    shop = ProxiedShop(nginx, instances, http_port, workdir, media)
    try:
        instances[0].prepare()
        for instance in instances:
            instance.start()
        nginx.start()
        yield shop
    finally:
        nginx.stop()
        for instance in instances:
            instance.stop()
        with contextlib.suppress(OSError):
            (ARTIFACTS / f"{name}-nginx.log").write_text(nginx.log_tail(400))
            (ARTIFACTS / f"{name}-nginx-access.log").write_text(nginx.access_log())


def fail_if_missing(shop: ProxiedShop | str) -> ProxiedShop:
    if isinstance(shop, str):
        pytest.fail(shop, pytrace=False)
    return shop


def open_https_device(browser, shop: ProxiedShop, contexts: list, **options):
    """A device (browser context) talking to nginx over HTTPS; 5xx answers are recorded."""
    context = browser.new_context(base_url=shop.url, ignore_https_errors=True, **options)
    context.set_default_timeout(WAIT_MS)

    def on_response(response) -> None:
        if response.status >= 500:
            shop.errors.append(f"{response.status} {response.request.method} {response.url}")

    def on_failed(request) -> None:
        # ERR_ABORTED is the browser dropping a request of a page it navigates away from;
        # anything else (reset, empty response, protocol error) came from the server side.
        if request.failure != "net::ERR_ABORTED":
            shop.errors.append(f"failed {request.method} {request.url}: {request.failure}")

    context.on("response", on_response)
    context.on("requestfailed", on_failed)
    contexts.append(context)
    return context.new_page()
