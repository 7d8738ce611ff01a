"""The shop served over HTTPS by gunicorn itself (STOREFRONT_TLS_CERT / STOREFRONT_TLS_KEY, see
gunicorn.conf.py), with a self-signed certificate this module makes for 127.0.0.1/localhost.

What it proves, with two devices (browser contexts) of one signed-in shopper:

- a change on one device reaches the other device's open /cart without a reload, and the push
  travels over ``wss://`` (the page's socket URL, and the frame carrying the new line);
- every cookie the shop sets is ``Secure``, ``HttpOnly`` and ``SameSite=Lax``;
- HTTPS answers carry ``Strict-Transport-Security`` and a ``Content-Security-Policy``;
- plain HTTP on the same port does not serve the shop.

The server here is this module's own (not ``shop_server``): its own database, keys, port and
log (``e2e/artifacts/gunicorn-https.log``). Every wait on a page is a Playwright ``expect`` on
the DOM or an awaited event, never a clock. Under ``CI=true`` a missing requirement fails.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e.processes import Gunicorn, flask_cli
from tests.certificates import make_certificate

E2E = Path(__file__).resolve().parent
ROOT = E2E.parent
ARTIFACTS = E2E / "artifacts"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"
WAIT_MS = 10_000
PASSWORD = "correct horse battery staple"
PRODUCT = "DEMO-0030"
SKU_MARK = f'data-sku="{PRODUCT}"'


# --- the HTTPS server -----------------------------------------------------------------------------


class HttpsServer(Gunicorn):
    """The shop on a database of its own, serving HTTPS with ``cert`` and ``key``."""

    def __init__(self, workdir: Path, log_path: Path, cert: Path, key: Path) -> None:
        env = {
            **os.environ,
            "STOREFRONT_DATABASE_URL": f"sqlite:///{workdir / 'shop.db'}",
            "STOREFRONT_SECRET_KEY": secrets.token_urlsafe(48),
            "STOREFRONT_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "STOREFRONT_TLS_CERT": str(cert),
            "STOREFRONT_TLS_KEY": str(key),
            "PYTHONUNBUFFERED": "1",
        }
        # Straight TLS, no proxy in front: nothing may claim https through X-Forwarded-Proto.
        for name in (
            "STOREFRONT_REDIS_URL",
            "STOREFRONT_BIND",
            "STOREFRONT_WORKERS",
            "STOREFRONT_PROXY_HOPS",
        ):
            env.pop(name, None)
        # Verifies the server against this module's certificate (hostname 127.0.0.1 included).
        super().__init__(env, log_path, tls=ssl.create_default_context(cafile=str(cert)))
        self.cert = cert

    def trusting_context(self) -> ssl.SSLContext:
        return self.tls

    def start(self) -> None:
        flask_cli(self.env, "db", "upgrade")
        flask_cli(self.env, "demo")
        super().start()


@pytest.fixture(scope="module")
def https_server(tmp_path_factory) -> Iterator[HttpsServer | str]:
    """The running HTTPS server, or (under CI=true only) why it cannot run: the test then fails."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        reason = "the cryptography package is not installed (pip install cryptography)"
        if not IN_CI:
            pytest.skip(reason)
        yield reason
        return
    workdir = tmp_path_factory.mktemp("storefront-https")
    cert, key = make_certificate(workdir)
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "gunicorn-https.log"
    log_path.write_text("")
    server = HttpsServer(workdir, log_path, cert, key)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- helpers --------------------------------------------------------------------------------------


def fill_account_form(page, email: str, button: str) -> None:
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def assert_security_headers(headers: dict[str, str], what: str) -> None:
    hsts = headers.get("strict-transport-security", "")
    assert "max-age=" in hsts, f"{what}: no Strict-Transport-Security over HTTPS: {headers}"
    max_age = int(hsts.split("max-age=", 1)[1].split(";", 1)[0].strip())
    assert max_age >= 31_536_000, f"{what}: HSTS max-age too short: {hsts!r}"
    csp = headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp, f"{what}: no Content-Security-Policy: {headers}"


def plain_http_answer(port: int) -> str | None:
    """What a plain-HTTP request to the TLS port gets: None when it fails at the connection
    (the expected case), else the status line and start of the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        return f"HTTP {response.status}: {response.read(300)!r}"
    except (http.client.HTTPException, OSError):
        return None
    finally:
        connection.close()


# --- the test -------------------------------------------------------------------------------------


def test_two_devices_sync_over_wss_with_secure_cookies_and_headers(browser, https_server):
    if isinstance(https_server, str):
        pytest.fail(
            f"{https_server} (CI=true: end-to-end tests must run, never skip)", pytrace=False
        )
    server = https_server
    origin = server.url
    socket_url = f"wss://127.0.0.1:{server.port}/ws"
    server_errors: list[str] = []
    contexts = []
    # Every socket each device's pages open, in order, and what happened on it (for failures).
    sockets: dict[str, list] = {"A": [], "B": []}
    socket_log: list[str] = []

    def on_response(response) -> None:
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def open_device(label: str):
        context = browser.new_context(base_url=origin, ignore_https_errors=True)
        context.set_default_timeout(WAIT_MS)
        context.on("response", on_response)
        contexts.append(context)
        page = context.new_page()

        def on_socket(ws) -> None:
            sockets[label].append(ws)
            name = f"{label}{len(sockets[label])}"
            socket_log.append(f"{name} opened {ws.url} (page {page.url})")
            ws.on("framereceived", lambda p: socket_log.append(f"{name} got {str(p)[:100]!r}"))
            ws.on("close", lambda _: socket_log.append(f"{name} closed"))

        page.on("websocket", on_socket)
        return page

    def wait_connected(page) -> None:
        expect(page.get_by_test_id("sync-status")).to_have_attribute("data-state", "connected")

    try:
        a, b = open_device("A"), open_device("B")

        # Device A creates the account; device B signs in to it (two sessions, one shopper).
        email = f"tls-{secrets.token_hex(6)}@example.test"
        response = a.goto("/register")
        assert response is not None and response.ok, response
        assert_security_headers(response.all_headers(), "GET /register")
        fill_account_form(a, email, "Create account")
        b.goto("/login")
        fill_account_form(b, email, "Sign in")
        # Both pages are live, so every socket opened so far has been reported: the next one
        # B opens belongs to the next page.
        wait_connected(a)
        wait_connected(b)

        # B opens its cart and goes live: the page's socket is wss:// to this very server.
        with b.expect_websocket() as opened:
            cart_page = b.goto("/cart")
        assert cart_page is not None and cart_page.ok
        assert_security_headers(cart_page.all_headers(), "GET /cart")
        wait_connected(b)
        b_socket = opened.value
        assert b_socket is sockets["B"][-1], f"not the /cart page's socket:\n{socket_log}"
        assert b_socket.url == socket_url, b_socket.url
        assert b.evaluate("() => location.protocol + ' ' + window.isSecureContext") == "https: true"
        expect(b.get_by_test_id("cart-count")).to_have_text("0")
        expect(b.get_by_test_id("cart-line")).to_have_count(0)
        b.evaluate("() => { window.__e2eSamePage = true; }")  # gone if B reloads or navigates

        # A adds the product: B's open cart shows it without a reload, pushed over wss://
        # (the frame that carries the new line arrives on B's socket).
        product_page = a.goto(f"/products/{PRODUCT}")
        assert product_page is not None and product_page.ok
        assert_security_headers(product_page.all_headers(), f"GET /products/{PRODUCT}")
        with b_socket.expect_event(
            "framereceived", predicate=lambda payload: SKU_MARK in str(payload)
        ):
            a.get_by_test_id("add-to-cart").click()
            expect(a.get_by_test_id("cart-count")).to_have_text("1")
        expect(b.get_by_test_id("cart-count")).to_have_text("1")
        line = b.locator(f'[data-testid="cart-line"][data-sku="{PRODUCT}"]')
        expect(line).to_have_count(1)
        expect(line.get_by_test_id("line-quantity")).to_have_value("1")
        expect(b.get_by_test_id("cart-line")).to_have_count(1)
        assert b.evaluate("() => window.__e2eSamePage === true"), "device B reloaded"
        assert not b_socket.is_closed(), f"B's socket closed during the test:\n{socket_log}"

        # Every socket either device opened was wss:// (none fell back to ws://).
        assert sockets["A"] and sockets["B"], f"a device opened no socket: {socket_log}"
        insecure = [ws.url for ws in sockets["A"] + sockets["B"] if ws.url != socket_url]
        assert not insecure, f"sockets not over TLS to this server: {insecure}"

        # Every cookie of the shop, on both devices: Secure, HttpOnly, SameSite=Lax.
        for label, context in (("A", a.context), ("B", b.context)):
            cookies = context.cookies(origin)
            assert cookies, f"device {label} holds no cookie of the shop"
            weak = [
                {k: c[k] for k in ("name", "secure", "httpOnly", "sameSite")}
                for c in cookies
                if not (c["secure"] and c["httpOnly"] and c["sameSite"] == "Lax")
            ]
            assert not weak, f"device {label}: cookies not Secure+HttpOnly+SameSite=Lax: {weak}"

        # Requests outside a page (the context's API client) get the same headers.
        api = b.request.get("/api/v1/cart")
        assert api.ok, api
        assert_security_headers(api.headers, "GET /api/v1/cart")

        # Plain HTTP to the TLS port does not serve the shop.
        answer = plain_http_answer(server.port)
        assert answer is None or not answer.startswith("HTTP 2"), f"plain http served: {answer}"

        assert not server_errors, (
            "the server answered with an error:\n  "
            + "\n  ".join(server_errors)
            + f"\nlog:\n{server.log_tail()}"
        )
    except Exception:
        print("sockets:\n  " + "\n  ".join(socket_log))
        ARTIFACTS.mkdir(exist_ok=True)
        for number, context in enumerate(contexts, start=1):
            for page in context.pages:
                with contextlib.suppress(Exception):  # a capture must not hide the failure
                    page.screenshot(path=str(ARTIFACTS / f"https-device{number}.png"))
                    (ARTIFACTS / f"https-device{number}.html").write_text(page.content())
        raise
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):  # already closed
                context.close()
