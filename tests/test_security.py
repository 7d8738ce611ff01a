"""Headers, rate limits, logs without secrets, and the shopper's own data."""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import re
import secrets

import pytest
from sqlalchemy import func, select

from storefront import create_app
from storefront.cart import models as m
from storefront.extensions import db
from storefront.logs import REQUEST_ID, JsonFormatter, _new_request_id
from storefront.security import LIMITER_STATE, LocalCounters
from tests import factories
from tests.conftest import app_settings
from tests.helpers import Browser

EMAIL = "lin@example.com"
PASSWORD = "correct horse battery"
REQUEST_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")


def test_every_response_carries_the_security_headers(browser):
    for response in (browser.page("/"), browser.api("GET", "/cart"), browser.page("/nope")):
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in headers  # plain http: no HSTS
        assert headers["X-Request-Id"]


@pytest.mark.parametrize(
    "path",
    [
        "/h/ABCDEF",
        f"/share/{'x' * 43}",
        "/password/reset/not-a-token",
        "/cart/reminder/not-a-token",
        "/email/unsubscribe/not-a-token",
    ],
)
def test_a_page_whose_address_is_a_secret_sends_only_the_origin_as_referer(browser, path):
    # Known or not, the address is what someone followed: it stays out of every Referer (a
    # proxy logs its static files' Referers). The origin still goes: over HTTPS the CSRF check
    # wants it on the page's own forms.
    for _ in range(2):  # worked out once per view: the second answer as the first
        assert browser.page(path).headers["Referrer-Policy"] == "strict-origin"
    assert browser.page("/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_https_responses_send_hsts_and_secure_cookies(app):
    client = app.test_client()
    response = client.get("/", base_url="https://shop.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in response.headers["Set-Cookie"]
    # The headers are worked out once per view and scheme: the same view over plain HTTP
    # afterwards must not inherit HSTS, nor HTTPS lose it.
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers
    again = app.test_client().get("/", base_url="https://shop.example")
    assert "Strict-Transport-Security" in again.headers


def test_a_new_secret_key_stops_honouring_cookies_signed_with_the_old_one(
    app, browser, make_product
):
    # The cookie's signer is made once per key, not once per request: a new key must still
    # be the only one that opens the cookie.
    sku = make_product()
    assert browser.add(sku).status_code == 200
    assert browser.cart()["item_count"] == 1
    app.secret_key = secrets.token_hex(32)
    assert browser.cart()["item_count"] == 0  # an unknown shopper now: a new, empty cart
    assert browser.add(sku).status_code == 403  # and its CSRF token, signed with the old key
    browser.csrf = ""
    assert browser.add(sku).status_code == 200
    assert browser.cart()["item_count"] == 1


def test_pages_have_no_inline_script(browser, make_product):
    product = f"/products/{make_product(options='size:S|M|L|XL!')}"
    for path in ("/", product, "/cart", "/login", "/register", "/cart/history"):
        html = browser.page(path).get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and "style=" not in html


@pytest.fixture
def settings():
    return {"STOREFRONT_CART_RATE_LIMIT": "3/minute"}


def test_cart_changes_are_rate_limited_per_shopper(browser, other_browser, make_product):
    sku = make_product()
    for _ in range(3):
        allowed = browser.add(sku)
        assert allowed.status_code == 200
        assert "X-RateLimit-Remaining" not in allowed.headers  # counted, not looked up again
    refused = browser.add(sku)
    assert refused.status_code == 429
    assert refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # the minute window, whole seconds
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert browser.cart()["item_count"] == 3
    page = browser.form("/cart/lines", {"sku": sku, "quantity": "1"})
    assert page.status_code == 429
    assert other_browser.add(sku).status_code == 200  # another shopper is not slowed


def test_with_the_counters_store_away_cart_changes_are_counted_in_the_process(
    browser, make_product, monkeypatch
):
    """Redis away: the shopper's change goes through, and the limit still holds."""
    from flask_limiter import Limiter

    class Away:
        def hit(self, *args, **kwargs):
            raise ConnectionError("the counters' store is away")

    monkeypatch.setattr(Limiter, "limiter", property(lambda self: Away()))
    sku = make_product()
    assert [browser.add(sku).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert browser.cart()["item_count"] == 3


def test_local_rate_counters_start_a_new_window_once_the_last_has_expired(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("storefront.security.time.time", lambda: now[0])
    counters = LocalCounters()
    assert [counters.incr("a", 10) for _ in range(3)] == [1, 2, 3]
    assert counters.get_expiry("a") == 1010.0 and counters.get("b") == 0
    now[0] = 1010.0
    assert counters.get("a") == 0 and counters.incr("a", 10) == 1
    assert counters.get_expiry("a") == 1020.0
    counters.incr("b", 1)
    now[0] += LocalCounters.SWEEP_SECONDS
    counters.incr("c", 1)  # the sweep drops every expired counter, not only the one it touches
    assert set(counters._counts) == {"c"}


def test_sign_in_is_rate_limited(browser):
    statuses = [
        browser.form("/login", {"email": EMAIL, "password": "wrong password!"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_flask_limiters_hooks_make_its_state_only_where_its_limits_were_checked(
    app, browser, make_product
):
    """A cart change is counted by ShopperLimit, not flask-limiter: its after-request hook and
    teardown no longer make the request's limiter state for nothing. A sign-in, limited by
    flask-limiter, still has it (its refusal: test_sign_in_is_rate_limited)."""
    from flask.globals import request_ctx

    seen: list[bool] = []
    app.teardown_request(lambda _error: seen.append(hasattr(request_ctx, LIMITER_STATE)))
    assert browser.add(make_product()).status_code == 200
    assert seen and not any(seen)  # (the token fetched first, then the add)
    browser.form("/login", {"email": EMAIL, "password": "wrong password!"})
    assert seen[-1] is True


def test_rate_limits_are_shared_across_processes_through_redis(database_url, tmp_path):
    shared = {
        "STOREFRONT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "STOREFRONT_REDIS_PREFIX": f"sftest-{secrets.token_hex(4)}",
        "STOREFRONT_CART_RATE_LIMIT": "2/minute",
    }
    one = create_app(app_settings(database_url, str(tmp_path), **shared))
    two = create_app(app_settings(database_url, str(tmp_path), **shared))
    with one.app_context():
        sku = factories.make_product()
    first = Browser(one.test_client())
    assert first.add(sku).status_code == 200
    second = Browser(two.test_client())
    second.client.set_cookie("storefront", first.client.get_cookie("storefront").value)
    second.csrf = first.csrf
    assert second.add(sku).status_code == 200
    assert first.add(sku).status_code == 429


def test_several_cart_limits_on_redis_are_hit_in_turn_in_one_round_trip(
    database_url, tmp_path, monkeypatch
):
    """The default cart limit is two limits. On Redis both are counted in one round trip,
    under flask-limiter's own keys; a hit refused by the first does not count against the
    second, as when flask-limiter hits them one by one."""
    from storefront.security import limiter

    prefix = f"sftest-{secrets.token_hex(4)}"
    app = create_app(
        app_settings(
            database_url,
            str(tmp_path),
            STOREFRONT_REDIS_URL="redis://127.0.0.1:6379/0",
            STOREFRONT_REDIS_PREFIX=prefix,
            STOREFRONT_CART_RATE_LIMIT="2/minute;5/hour",
        )
    )
    with app.app_context():
        sku = factories.make_product()
        client = limiter.limiter.storage.get_connection()
    browser = Browser(app.test_client())
    assert browser.add(sku).status_code == 200  # (Redis may have to load the script first)
    sent = []
    execute = client.execute_command

    def counted(*args, **options):
        sent.append(args[0])
        return execute(*args, **options)

    monkeypatch.setattr(client, "execute_command", counted)
    assert browser.add(sku).status_code == 200
    assert sent == ["EVALSHA"]
    refused = browser.add(sku)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61  # the minute's window told
    assert refused.headers["X-RateLimit-Limit"] == "2"
    monkeypatch.undo()
    counters = {}
    for key in client.scan_iter(f"*{prefix}*cart-changes*"):
        counters[client.ttl(key) > 60] = int(client.get(key))
        client.delete(key)
    assert counters == {False: 3, True: 2}  # the refused hit counted in the minute only
    assert browser.cart()["item_count"] == 2


@pytest.fixture
def log_lines():
    """What the app logs during the test, as its JSON lines would read."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("storefront")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def test_logs_are_json_with_request_ids_and_hold_no_secrets(app, browser, make_product, log_lines):
    engraving = "Secret engraving for Ada"
    sku = make_product(options="engraving:text(40)")
    browser.register(EMAIL, PASSWORD)
    browser.add(sku, 1, {"engraving": engraving})
    browser.page("/cart")
    browser.page(f"/?q={EMAIL}")
    browser.api("GET", "/cart/history")
    browser.page("/account/export")
    browser.logout()
    browser.login(EMAIL, PASSWORD)
    browser.form("/login", {"email": EMAIL, "password": "wrong " + PASSWORD})
    output = log_lines.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) > 8 and all(line["request_id"] for line in lines if "path" in line)
    cookie = browser.client.get_cookie("storefront").value
    for secret in (EMAIL, PASSWORD, engraving, cookie, browser.csrf, sku):
        assert secret not in output, secret
    ids = [line["request_id"] for line in lines if "path" in line]
    assert len(set(ids)) == len(ids)  # one id per request


def test_an_access_line_queued_straight_for_the_writer_reads_as_the_formatter_would_write_it(
    app, browser, make_product, monkeypatch
):
    from storefront import logs

    sku = make_product()
    browser.ensure_csrf()  # its page's line went to the writer as usual
    lines = queue.SimpleQueue()
    writer = logs._FormattedLines(lines)
    writer.setFormatter(JsonFormatter())
    monkeypatch.setattr(logging.getLogger("storefront"), "handlers", [writer])
    assert logs._writer_queue() is lines  # the one place lines go: straight there
    response = browser.add(sku, **{"X-Request-Id": "req-0123456789"})
    line = json.loads(lines.get_nowait())
    assert {k: line[k] for k in ("level", "logger", "message", "request_id", "method")} == {
        "level": "info",
        "logger": "storefront.access",
        "message": "request",
        "request_id": "req-0123456789",
        "method": "POST",
    }
    assert line["path"] == "/api/v1/cart/lines" and line["status"] == response.status_code
    assert line["ms"] >= 0 and re.fullmatch(r"[0-9a-f]{16}", line["shopper"])
    assert REQUEST_TIME.match(line["time"])
    # Another listener (a handler added): every line goes through logging again, to both.
    listening = io.StringIO()
    other = logging.StreamHandler(listening)
    other.setFormatter(JsonFormatter())
    monkeypatch.setattr(logging.getLogger("storefront"), "handlers", [writer, other])
    assert logs._writer_queue() is None
    browser.api("GET", "/cart", headers={"X-Request-Id": "req-abcdefghij"})
    queued, heard = json.loads(lines.get_nowait()), json.loads(listening.getvalue())
    assert queued == heard and queued["request_id"] == "req-abcdefghij"
    assert set(queued) == set(line)


def test_request_ids_differ_between_processes_forked_from_one_another():
    """Two gunicorn workers forked from one arbiter never hand out the same request id."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id, then gone without running anything else
        os.write(write, _new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parent = {_new_request_id() for _ in range(3)}
    assert child and child not in parent and len(parent) == 3
    assert all(REQUEST_ID.match(made) for made in parent | {child})


def test_a_server_error_is_logged_with_its_traceback_and_request_id(
    app, browser, monkeypatch, log_lines
):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise ZeroDivisionError("the cart view broke")

    monkeypatch.setattr("storefront.cart.routes.views.view", broken)
    response = browser.page("/cart")
    assert response.status_code == 500
    errors = [
        e for e in map(json.loads, log_lines.getvalue().splitlines()) if e["level"] == "error"
    ]
    assert len(errors) == 1
    error = errors[0]
    assert error["error"] == "ZeroDivisionError: the cart view broke"
    assert "Traceback (most recent call last)" in error["traceback"]
    assert "storefront/cart/routes.py" in error["traceback"] and "in page" in error["traceback"]
    assert error["request_id"] == response.headers["X-Request-Id"]


def test_a_database_error_that_is_not_a_lost_connection_stays_a_logged_500(
    app, browser, monkeypatch, log_lines
):
    from sqlalchemy.exc import OperationalError

    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("disk I/O error"))

    monkeypatch.setattr("storefront.cart.routes.views.view", broken)
    response = browser.page("/cart")
    assert response.status_code == 500  # not the 503 of a connection the server dropped
    errors = [
        e for e in map(json.loads, log_lines.getvalue().splitlines()) if e["level"] == "error"
    ]
    assert len(errors) == 1
    assert "Traceback (most recent call last)" in errors[0]["traceback"]
    assert (
        "OperationalError" in errors[0]["traceback"] and "disk I/O error" in errors[0]["traceback"]
    )


def test_a_shopper_can_download_their_data(browser, make_product):
    sku = make_product(name="Honey Mug")
    browser.register(EMAIL, PASSWORD)
    browser.add(sku, 2)
    response = browser.page("/account/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.json
    assert data["account"]["email"] == EMAIL
    assert data["cart"]["lines"][0]["sku"] == sku
    assert data["cart_history"][0]["summary"] == "Added 2 × Honey Mug"
    assert data["signed_in_devices"][0]["device"] == "Chrome on Linux"
    browser.logout()
    assert browser.page("/account/export").status_code == 401


def test_deleting_an_account_takes_its_carts_history_and_sessions(app, browser, make_product):
    browser.register(EMAIL, PASSWORD)
    browser.add(make_product(), 2)
    copied = browser.client.get_cookie("storefront").value
    wrong = browser.form("/account/delete", {"password": "not my password"})
    assert wrong.status_code == 403 and browser.cart()["item_count"] == 2
    assert browser.form("/account/delete", {"password": PASSWORD}).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(m.Cart)) == 0
        assert db.session.scalar(select(func.count()).select_from(m.CartRevision)) == 0
    thief = Browser(app.test_client())
    thief.client.set_cookie("storefront", copied)
    assert thief.cart()["item_count"] == 0
    browser.page("/")
    assert browser.login(EMAIL, PASSWORD).status_code == 401
