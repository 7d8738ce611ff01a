"""The shop behind the shipped nginx site (deploy/nginx/storefront.conf) over TLS, as a shop
owner runs it: two instances, nginx in front on loopback with a certificate made here.

What it proves:

- pages, the JSON API and the live push over ``wss://`` through the proxy, between two devices
  of one shopper, each instance serving some of the requests;
- the app sees the scheme nginx saw: every cookie ``Secure``, HSTS on every answer (nginx's own
  static and image answers too);
- the app sees the client's address as nginx saw it: sign-in attempts are limited per real
  address, and a forged X-Forwarded-For neither escapes the limit nor blames someone else;
- the socket's Origin check accepts the https origin and refuses any other;
- static files and product images come from nginx itself with their caching headers, plain
  HTTP redirects to HTTPS;
- the pages whose address is a secret (a handoff code, a sharing link) send no Referer but
  their origin, and their forms still pass the CSRF check that HTTPS makes stricter.
"""

from __future__ import annotations

import http.client
import re
import secrets
import ssl

import pytest

from e2e.proxied import fail_if_missing, open_https_device, start_proxied_shop
from e2e.shop import (
    add_to_cart,
    api_contents,
    expect_lines,
    new_email,
    open_live,
    register,
    same_page,
    sign_in,
    visit,
)
from e2e.test_handoff import show_handoff
from e2e.test_sharing import invite

SIGN_IN_PER_MINUTE = 10  # storefront/security.py SIGN_IN_LIMIT
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, browser):
    yield from start_proxied_shop(tmp_path_factory, "proxy")


@pytest.fixture
def devices(browser, proxied):
    contexts: list = []
    yield lambda: open_https_device(browser, fail_if_missing(proxied), contexts)
    for context in contexts:
        context.close()


def hsts(headers: dict[str, str]) -> str:
    return headers.get("strict-transport-security", "")


class Client:
    """A plain HTTPS client from a loopback address of its own (127.0.0.x), with cookies."""

    def __init__(self, shop, source: str) -> None:
        self.shop = shop
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None, headers=None):
        context = ssl.create_default_context(cafile=str(self.shop.nginx.values.certificate))
        connection = http.client.HTTPSConnection(
            "127.0.0.1",
            self.shop.nginx.values.https_port,
            context=context,
            source_address=(self.source, 0),
            timeout=15,
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response, text

    def failed_sign_in(self, forged_for: str | None = None) -> int:
        _, page = self.request("GET", "/login")
        token = CSRF.search(page)
        assert token, "no CSRF token on /login"
        # A browser's form post over HTTPS carries its page as Referer (Flask-WTF checks it).
        headers = {"Referer": f"{self.shop.url}/login"}
        if forged_for:
            headers["X-Forwarded-For"] = forged_for
        email = f"nobody-{secrets.token_hex(4)}%40example.com"
        form = f"csrf_token={token[1]}&email={email}&password=wrong-password"
        response, _ = self.request("POST", "/login", form, headers)
        return response.status


def api_add(page, sku: str, quantity: int) -> None:
    """Add over the JSON API with the device's cookies and CSRF token. Over HTTPS, Flask-WTF
    also wants a same-origin Referer on a POST (WTF_CSRF_SSL_STRICT), as a page's fetch sends."""
    token = page.request.get("/api/v1/cart").headers["x-csrf-token"]
    response = page.request.post(
        "/api/v1/cart/lines",
        data={"sku": sku, "quantity": quantity},
        headers={"X-CSRF-Token": token, "Referer": page.url},
    )
    assert response.status == 200, f"API add {sku}: HTTP {response.status} {response.text()}"


def test_pages_api_and_live_push_over_wss_through_nginx(proxied, devices):
    shop = fail_if_missing(proxied)
    socket_url = f"wss://127.0.0.1:{shop.nginx.values.https_port}/ws"
    a, b = devices(), devices()
    email = new_email("proxy")
    register(a, email)
    sign_in(b, email)
    kettle = add_to_cart(a, "DEMO-0301", 1)

    with b.expect_websocket() as opened:
        open_live(b, "/cart")
    assert opened.value.url == socket_url
    assert b.evaluate("() => location.protocol + ' ' + window.isSecureContext") == "https: true"
    expect_lines(b, {kettle.sku: 1})
    open_live(a, "/cart")

    with same_page(a), same_page(b):
        api_add(a, "DEMO-0302", 2)  # the JSON API, through the proxy
        expect_lines(b, {"DEMO-0301": 1, "DEMO-0302": 2})
        expect_lines(a, {"DEMO-0301": 1, "DEMO-0302": 2})
        api_add(b, "DEMO-0301", 1)
        expect_lines(a, {"DEMO-0301": 2, "DEMO-0302": 2})
    assert api_contents(a) == {"DEMO-0301": 2, "DEMO-0302": 2}

    # The app knew it was served over HTTPS: Secure cookies, HSTS on its answers.
    for device in (a, b):
        cookies = device.context.cookies(shop.url)
        assert cookies and all(c["secure"] and c["httpOnly"] for c in cookies), cookies
    page = a.request.get("/cart")
    assert "max-age=31536000" in hsts(page.headers), page.headers
    api = a.request.get("/api/v1/cart")
    assert api.ok and "max-age=31536000" in hsts(api.headers)

    # Both instances served this test's requests (one upstream for all would hide a broken one).
    upstreams = {up for _, up, _ in shop.access_lines() if up != "-"}
    assert {f"127.0.0.1:{i.port}" for i in shop.instances} <= upstreams, upstreams
    assert not shop.errors, shop.errors


def test_sign_in_limit_counts_the_real_client_address_not_a_forged_one(proxied):
    shop = fail_if_missing(proxied)
    attacker = Client(shop, "127.0.0.2")
    # Every attempt claims another address; nginx appends the real one, the app believes that.
    statuses = [
        attacker.failed_sign_in(forged_for=f"203.0.113.{n}") for n in range(SIGN_IN_PER_MINUTE + 1)
    ]
    assert statuses[:SIGN_IN_PER_MINUTE] == [401] * SIGN_IN_PER_MINUTE, statuses
    assert statuses[-1] == 429, statuses
    # Someone at another address is not blamed: their wrong password is just a wrong password,
    # even when they claim to be the address the attacker forged.
    neighbour = Client(shop, "127.0.0.3")
    assert neighbour.failed_sign_in(forged_for="203.0.113.1") == 401
    assert neighbour.failed_sign_in() == 401


def websocket_handshake(shop, origin: str | None) -> int:
    """The status of a WebSocket handshake on /ws through nginx (101: upgraded)."""
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if origin is not None:
        headers["Origin"] = origin
    context = ssl.create_default_context(cafile=str(shop.nginx.values.certificate))
    connection = http.client.HTTPSConnection(
        "127.0.0.1", shop.nginx.values.https_port, context=context, timeout=15
    )
    try:
        connection.request("GET", "/ws", headers=headers)
        # A 101 leaves the connection open as a socket: the status line is all we read.
        return connection.getresponse().status
    finally:
        connection.close()


def test_socket_origin_check_accepts_the_https_origin_and_refuses_others(proxied):
    shop = fail_if_missing(proxied)
    port = shop.nginx.values.https_port
    assert websocket_handshake(shop, f"https://127.0.0.1:{port}") == 101
    # The same host over plain http, another site, another port, none: refused before upgrade.
    for origin in (
        f"http://127.0.0.1:{port}",
        "https://evil.example",
        f"https://127.0.0.1:{port + 1}",
        None,
    ):
        assert websocket_handshake(shop, origin) == 403, origin


def test_static_files_and_images_come_from_nginx_with_caching_headers(proxied):
    shop = fail_if_missing(proxied)
    client = Client(shop, "127.0.0.5")
    image = f"{secrets.token_hex(16)}-320.webp"
    (shop.media_dir / image).write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 ")

    response, _ = client.request("GET", "/static/css/site.css")
    assert response.status == 200
    assert response.getheader("Cache-Control") == "no-cache"
    assert "max-age=31536000" in (response.getheader("Strict-Transport-Security") or "")
    etag = response.getheader("ETag")
    again, _ = client.request("GET", "/static/css/site.css", headers={"If-None-Match": etag})
    assert again.status == 304  # revalidated, not sent again

    vendor, _ = client.request("GET", "/static/vendor/htmx-2.0.11.min.js")
    assert vendor.status == 200
    assert "immutable" in vendor.getheader("Cache-Control")

    picture, _ = client.request("GET", f"/media/{image}")
    assert picture.status == 200 and picture.getheader("Content-Type") == "image/webp"
    assert picture.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    for path in (f"/media/{image[:-5]}.png", "/media/..%2fshop.db", "/media/"):
        assert client.request("GET", path)[0].status == 404, path

    served_by = {request.split()[1]: up for _, up, request in shop.access_lines()}
    for path in ("/static/css/site.css", "/static/vendor/htmx-2.0.11.min.js", f"/media/{image}"):
        assert served_by[path] == "-", f"{path} went to gunicorn ({served_by[path]})"

    # Plain HTTP: a redirect to the same address over HTTPS, the shop not served.
    connection = http.client.HTTPConnection("127.0.0.1", shop.http_port, timeout=10)
    try:
        connection.request("GET", "/cart?x=1", headers={"Host": "127.0.0.1"})
        redirect = connection.getresponse()
        assert redirect.status == 301
        assert redirect.getheader("Location") == "https://127.0.0.1/cart?x=1"
    finally:
        connection.close()


def test_secret_links_join_over_https_and_send_only_the_origin_as_referer(proxied, devices):
    """Over HTTPS Flask-WTF refuses a form POST whose Referer is missing or of another origin.
    The handoff and sharing pages must not send their address (it is the secret), yet their
    confirm buttons post forms: they send the origin alone (Referrer-Policy: strict-origin)."""
    shop = fail_if_missing(proxied)
    laptop = devices()
    add_to_cart(laptop, "DEMO-0303", 2)
    _, link = show_handoff(laptop)
    phone = devices()
    referers: list[str] = []
    phone.context.on(
        "request",
        lambda r: (
            referers.append(r.headers.get("referer", ""))
            if r.method == "POST" and r.url.endswith("/cart/handoff")
            else None
        ),
    )
    phone.goto(link)
    phone.get_by_test_id("handoff-confirm").click()
    expect_lines(phone, {"DEMO-0303": 2})  # joined: the other device's cart is here
    assert referers == [f"{shop.url}/"], referers  # the origin only: the code stayed put

    owner, member = devices(), devices()
    register(owner, new_email("proxy-owner"))
    add_to_cart(owner, "DEMO-0304", 1)
    register(member, new_email("proxy-member"))
    visit(owner, "/cart")
    share = invite(owner)
    visit(member, share)
    member.get_by_test_id("share-accept").click()
    expect_lines(member, {"DEMO-0304": 1})
    assert not shop.errors, shop.errors
