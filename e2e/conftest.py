"""End-to-end fixtures: the real app under gunicorn on a fresh SQLite file, and Chromium.

Run from the repository root with ``.venv/bin/pytest e2e -q``. Independent of ``tests/``.

- ``shop_server``: the live server (named so as not to shadow pytest-flask's ``live_server``):
  one gunicorn process for the whole session, after ``db upgrade`` and ``demo`` on a temporary
  SQLite file, configured with ``SHOP_ENV`` (the ``test`` payment provider on, for checkout).
  ``restart_server()`` stops and starts it on the same database, keys and port.
- ``browser``: one headless Debian Chromium (``/usr/bin/chromium``, or ``$E2E_CHROMIUM``) for the
  session, driven by Playwright without any browser download.
- ``new_device``: a factory; each call opens a new browser context (one device of one shopper)
  and returns its page. Contexts are closed after the test; on failure a screenshot and the
  page's HTML go to ``e2e/artifacts/``. Any 5xx answer seen by a device fails the test. Each
  device sends a client address of its own (``X-Forwarded-For``; the server trusts one proxy
  hop), so per-address limits such as sign-in attempts count per device, as in real life.
  ``device_factory`` does the same for servers of a test's own (see ``test_multi_instance``).

Without ``/usr/bin/chromium`` (or without ``e2e/node_modules/axe-core``, for the accessibility
tests) tests are skipped locally, but fail when ``CI=true``: CI must never pass by skipping.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.processes import CHROMIUM_ARGS, Gunicorn, flask_cli

E2E = Path(__file__).resolve().parent
ROOT = E2E.parent
ARTIFACTS = E2E / "artifacts"
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
AXE = E2E / "node_modules" / "axe-core" / "axe.min.js"
# Playwright waits (auto-waiting actions and expect) give up after this many milliseconds.
WAIT_MS = 10_000

IN_CI = os.environ.get("CI", "").strip().lower() == "true"

# What the session's shop is configured with, over LiveServer's defaults: the checkout offers
# the `test` provider (deterministic card tokens: tok_ok, tok_declined, tok_error) first, and
# `manual`. A test that needs another configuration starts a LiveServer of its own with ``env``.
SHOP_ENV = {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


# Fixture name -> why it cannot work here; only filled under CI=true (see pytest_runtest_call).
MISSING: dict[str, str] = {}


def missing_requirement(fixture: str, reason: str) -> None:
    """Skip locally. Under CI=true remember it instead: every test that uses the fixture then
    FAILS when it runs (a failure, not a setup error and never a skip)."""
    if not IN_CI:
        pytest.skip(reason)
    MISSING[fixture] = reason


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    reasons = [reason for name, reason in MISSING.items() if name in item.fixturenames]
    if reasons:
        pytest.fail(
            "; ".join(reasons) + " (CI=true: end-to-end tests must run, never skip)",
            pytrace=False,
        )


# --- the live server --------------------------------------------------------------------------


class LiveServer(Gunicorn):
    """gunicorn serving ``wsgi:app`` from the repository root, on a database of its own."""

    def __init__(
        self,
        workdir: Path,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        workers: int | None = None,
    ) -> None:
        """``env`` is laid over the defaults (a shared database, Redis and keys, for several
        instances of one shop); ``workers`` is passed to gunicorn as ``-w``."""
        defaults = {
            **os.environ,
            "STOREFRONT_DATABASE_URL": f"sqlite:///{workdir / 'shop.db'}",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "PYTHONUNBUFFERED": "1",
            # As behind one reverse proxy: each device says which address it comes from (see
            # device_factory), so per-address limits (sign-in, register) count per device.
            "STOREFRONT_PROXY_HOPS": "1",
            # Uploaded product images beside the database, not in the checkout's instance/.
            "STOREFRONT_MEDIA_DIR": str(workdir / "media"),
        }
        # A developer's shell may point at a Redis or another bind; this server is self-contained.
        for name in ("STOREFRONT_REDIS_URL", "STOREFRONT_BIND", "STOREFRONT_WORKERS"):
            defaults.pop(name, None)
        super().__init__({**defaults, **(env or {})}, log_path, workers=workers)
        self.workdir = workdir
        self.starts = 0

    def flask(self, *args: str) -> None:
        flask_cli(self.env, *args)

    def prepare(self) -> None:
        self.flask("db", "upgrade")
        self.flask("demo")

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"\n===== e2e: start #{self.starts} on {self.url} =====\n")
        super().start()

    def restart(self) -> None:
        """Stop the process and start a new one: same database, keys and port."""
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def shop_server(tmp_path_factory) -> Iterator[LiveServer]:
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "gunicorn.log"
    log_path.write_text("")
    server = LiveServer(tmp_path_factory.mktemp("storefront"), log_path, env=SHOP_ENV)
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def restart_server(shop_server: LiveServer) -> Callable[[], None]:
    """Stops and starts the server process on the same database, keys and port."""
    return shop_server.restart


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    if not CHROMIUM.exists():
        missing_requirement(
            "browser", f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        )
        yield None
        return
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


# Every device of the session comes from an address of its own (10.0.0.0/8, one per context).
DEVICE_ADDRESSES = (f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(1))


@contextlib.contextmanager
def device_factory(request, browser, base_url: str, servers: list[LiveServer]):
    """What ``new_device`` yields, for any server(s): ``servers`` are the processes whose logs
    go to ``e2e/artifacts/`` when the test fails or a device sees a 5xx. ``open_device`` takes
    browser context options; ``base_url`` among them picks another server. Each device sends
    its own client address in ``X-Forwarded-For`` (the servers trust one proxy hop)."""
    contexts = []
    server_errors: list[str] = []

    def on_response(response) -> None:
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def open_device(**options):
        address = next(DEVICE_ADDRESSES)
        headers = {"X-Forwarded-For": address, **options.pop("extra_http_headers", {})}
        context = browser.new_context(
            **{"base_url": base_url, "extra_http_headers": headers, **options}
        )
        context.set_default_timeout(WAIT_MS)
        context.on("response", on_response)
        contexts.append(context)
        return context.new_page()

    yield open_device

    call = getattr(request.node, "report_call", None)
    failed = call is not None and call.failed
    name = _artifact_name(request.node.nodeid)
    for number, context in enumerate(contexts, start=1):
        if failed:
            for index, page in enumerate(context.pages, start=1):
                stem = ARTIFACTS / f"{name}-device{number}-page{index}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(page.content())
                except Exception as exc:  # a closed page must not hide the real failure
                    Path(f"{stem}.txt").write_text(f"could not capture: {exc}")
        with contextlib.suppress(Exception):  # already closed by the test
            context.close()
    logs = [ARTIFACTS / f"{name}-{server.log_path.stem}.log" for server in servers]
    if failed or server_errors:
        for server, log in zip(servers, logs, strict=True):
            with contextlib.suppress(OSError):
                shutil.copyfile(server.log_path, log)
    if server_errors and not failed:
        # Whatever the page showed, a 5xx is a bug: report it even if every assertion held.
        pytest.fail(
            "the server answered with an error during this test:\n  "
            + "\n  ".join(server_errors)
            + f"\nserver log: {', '.join(map(str, logs))}",
            pytrace=False,
        )


@pytest.fixture
def new_device(request, browser, shop_server):
    """``new_device(**context_options)`` opens one more device (browser context) and returns its
    page, still blank; ``page.goto("/path")`` is relative to the live server."""
    with device_factory(request, browser, shop_server.url, [shop_server]) as open_device:
        yield open_device


@pytest.fixture(scope="session")
def axe_source() -> Path:
    if not AXE.exists():
        missing_requirement(
            "axe_source",
            f"axe-core not installed at {AXE.relative_to(ROOT)} (run `npm ci` in e2e/)",
        )
    return AXE
