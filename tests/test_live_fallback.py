"""Live updates without a WebSocket: /live/events (Server-Sent Events) and /live/poll (long
polls) hear what /ws hears, as the same shopper, with the same origin checks, and never keep a
signed-in session alive by themselves."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import time
import urllib.request
from datetime import timedelta

import pytest

from storefront import clock
from storefront.realtime import fallback
from tests.live import HttpShopper, serve

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def live(app):
    with serve(app) as base:
        yield base


class EventStream:
    """One EventSource as a browser opens it: GET /live/events with the page's cookie."""

    def __init__(self, base: str, cookie: str, headers: dict | None = None):
        self.connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
        self.connection.request(
            "GET",
            "/live/events",
            headers={"Cookie": cookie, "Accept": "text/event-stream", **(headers or {})},
        )
        self.response = self.connection.getresponse()
        self.status = self.response.status

    def next_event(self) -> tuple[str, str]:
        """(kind, data) of the next event, pings aside; "message" when it names none."""
        kind, data = "message", []
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("the stream ended")
            line = line.rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").removeprefix(" "))
            elif line == "" and (data or kind != "message"):
                if kind != "ping":
                    return kind, "\n".join(data)
                kind, data = "message", []

    def until(self, pattern: str, kind: str = "message") -> str:
        for _ in range(50):
            got_kind, data = self.next_event()
            if got_kind == kind and re.search(pattern, data):
                return data
        raise AssertionError(f"no {kind} event matching {pattern!r}")

    def events_within(self, seconds: float) -> list[str]:
        """The data of the events (pings aside) that come within ``seconds``: the server's
        keep-alives must come more often than that, so that reading never blocks longer."""
        found, data, ping = [], [], False
        deadline = time.monotonic() + seconds
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line == "event: ping":
                ping = True
            elif line.startswith("data:"):
                data.append(line.removeprefix("data:").removeprefix(" "))
            elif line == "":  # the end of an event: only there may reading stop
                if data and not ping:
                    found.append("\n".join(data))
                data, ping = [], False
                if time.monotonic() >= deadline:
                    return found

    def close(self) -> None:
        self.connection.close()


def refused(response) -> dict:
    """The contract's error object of a refusal."""
    body = json.loads(response.read()) if hasattr(response, "read") else response.json
    assert set(body) == {"error"} and body["error"]["message"], body
    return body["error"]


def test_the_stream_sends_the_hello_then_every_change_of_this_shopper(live, make_product):
    first, second = make_product(), make_product()
    phone = HttpShopper(live)
    phone.call("POST", "/cart/lines", {"sku": first, "quantity": 1})
    stream = EventStream(live, phone.cookie, SAME_ORIGIN)
    assert stream.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    assert stream.response.getheader("Cache-Control") == "no-store"
    hello = stream.until('data-control="hello"')
    assert 'data-cart-version="1"' in hello

    phone.call("POST", "/cart/lines", {"sku": second, "quantity": 2})
    event = stream.until('id="cart-state"')
    assert 'data-cart-version="2"' in event and f'data-sku="{second}"' in event
    assert re.search(r'data-testid="cart-count"[^>]*>3<', event)
    assert "added on another device" in event and "csrf_token" not in event
    stream.close()


def test_another_shoppers_changes_never_reach_the_stream(live, make_product):
    alices, bobs = make_product(), make_product()
    alice, bob = HttpShopper(live), HttpShopper(live)
    stream = EventStream(live, bob.cookie, SAME_ORIGIN)
    stream.until("hello")
    alice.call("POST", "/cart/lines", {"sku": alices, "quantity": 1})
    bob.call("POST", "/cart/lines", {"sku": bobs, "quantity": 1})
    event = stream.until('id="cart-state"')  # Bob's own change is the first he hears of
    assert f'data-sku="{bobs}"' in event and alices not in event
    stream.close()


def test_a_forged_cookie_listens_as_a_stranger(live, make_product):
    victim = HttpShopper(live)
    victim.call("POST", "/cart/lines", {"sku": make_product(), "quantity": 1})
    name, value = victim.cookie.split("=", 1)
    forged = f"{name}={value[:-4]}{'AAAA' if not value.endswith('AAAA') else 'BBBB'}"
    stream = EventStream(live, forged, SAME_ORIGIN)
    hello = stream.until("hello")
    assert 'data-cart-id=""' in hello and 'data-cart-version="0"' in hello
    victim.call("POST", "/cart/lines", {"sku": make_product(), "quantity": 1})
    poll = poll_over_http(live, forged)
    assert poll["messages"] and "hello" in poll["messages"][0]
    assert 'data-cart-id=""' in poll["messages"][0]
    stream.close()


def test_signing_out_ends_that_devices_stream(live):
    shopper = HttpShopper(live)
    assert shopper.form("/register", {"email": "sse@example.com", "password": "long enough pw"})
    shopper.refresh()
    stream = EventStream(live, shopper.cookie, SAME_ORIGIN)
    stream.until("hello")
    shopper.form("/logout", {})
    assert stream.until("signed out", kind="close") == "signed out"
    with pytest.raises(EOFError):
        stream.next_event()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="same-site"),
        pytest.param({"Sec-Fetch-Site": "none"}, id="typed-address"),
        pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param(
            {"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"}, id="both-lie"
        ),
        pytest.param({}, id="says-nothing"),
    ],
)
def test_the_stream_refuses_other_sites(live, headers):
    shopper = HttpShopper(live)
    stream = EventStream(live, shopper.cookie, headers)
    assert stream.status == 403
    assert stream.response.getheader("Content-Type") == "application/json"
    assert refused(stream.response)["code"] == "cross_site"
    stream.close()


def test_the_stream_takes_the_pages_own_origin(live):
    shopper = HttpShopper(live)
    # This client sends "Host: 127.0.0.1:<port>"; a browser's Origin names the same.
    stream = EventStream(live, shopper.cookie, {"Origin": live})
    assert stream.status == 200 and "hello" in stream.until("hello")
    stream.close()


def test_the_stream_sends_keep_alives_while_nothing_happens(live, monkeypatch):
    """Proxies close a stream that stays silent; the page's watchdog counts on these."""
    monkeypatch.setattr(fallback, "KEEPALIVE_SECONDS", 0.05)
    stream = EventStream(live, HttpShopper(live).cookie, SAME_ORIGIN)
    stream.until("hello")
    lines = [stream.response.readline().decode() for _ in range(6)]
    assert lines.count("event: ping\n") >= 2, lines
    stream.close()


def test_the_stream_closes_when_the_signed_in_session_times_out(app, live, monkeypatch):
    monkeypatch.setattr(fallback, "KEEPALIVE_SECONDS", 0.1)
    shopper = HttpShopper(live)
    shopper.form("/register", {"email": "idle@example.com", "password": "long enough pw"})
    shopper.refresh()
    stream = EventStream(live, shopper.cookie, SAME_ORIGIN)
    stream.until("hello")
    clock.advance(timedelta(minutes=31))  # keep-alives went on all along: not activity
    assert stream.until("signed out", kind="close") == "signed out"
    stream.close()


# --- long polls ----------------------------------------------------------------------------------


def poll_over_http(base: str, cookie: str, state: str | None = None, headers=None) -> dict:
    query = "" if state is None else f"?state={state}"
    request = urllib.request.Request(
        f"{base}/live/poll{query}", headers={"Cookie": cookie, **SAME_ORIGIN, **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Cache-Control"] == "no-store"
        return json.loads(response.read())


def hello_state(hello: str) -> str:
    cart = re.search(r'data-cart-id="([^"]*)"', hello).group(1)
    version = re.search(r'data-cart-version="(\d+)"', hello).group(1)
    return f"{cart}:{version}"


def subscribed(app) -> int:
    return len(app.extensions["storefront.realtime"].registry)


def test_a_poll_brings_the_hello_then_waits_for_the_next_change(app, live, make_product):
    shopper = HttpShopper(live)
    shopper.call("POST", "/cart/lines", {"sku": make_product(), "quantity": 1})
    first = poll_over_http(live, shopper.cookie)
    assert len(first["messages"]) == 1 and "hello" in first["messages"][0]
    state = hello_state(first["messages"][0])
    assert state.endswith(":1")

    answers: list[dict] = []
    waiting = threading.Thread(
        target=lambda: answers.append(poll_over_http(live, shopper.cookie, state))
    )
    started = time.monotonic()
    waiting.start()
    while subscribed(app) == 0 and time.monotonic() - started < 10:
        time.sleep(0.01)
    sku = make_product()
    shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": 2})
    waiting.join(15)
    (answer,) = answers
    assert "reconnect" not in answer
    (event,) = answer["messages"]
    assert 'data-cart-version="2"' in event and f'data-sku="{sku}"' in event
    assert time.monotonic() - started < fallback.POLL_SECONDS  # answered at once, not at the end
    assert subscribed(app) == 0  # nothing left listening once answered


def test_a_poll_from_a_page_behind_gets_the_hello_at_once(browser, make_product):
    browser.add(make_product())
    browser.add(make_product())
    response = browser.client.get("/live/poll?state=1:1", headers=SAME_ORIGIN)
    (hello,) = response.json["messages"]
    assert 'data-control="hello"' in hello and 'data-cart-version="2"' in hello


def test_a_quiet_poll_answers_with_nothing(browser, monkeypatch, make_product):
    monkeypatch.setattr(fallback, "POLL_SECONDS", 0.05)
    browser.add(make_product())
    state = hello_state(browser.client.get("/live/poll", headers=SAME_ORIGIN).json["messages"][0])
    response = browser.client.get(f"/live/poll?state={state}", headers=SAME_ORIGIN)
    assert response.status_code == 200 and response.json == {"messages": []}


def test_a_poll_naming_another_shoppers_cart_still_hears_only_its_own(
    app, browser, other_browser, monkeypatch, make_product
):
    monkeypatch.setattr(fallback, "POLL_SECONDS", 0.05)
    browser.add(make_product())
    theirs = hello_state(browser.client.get("/live/poll", headers=SAME_ORIGIN).json["messages"][0])
    assert theirs.split(":")[0]
    (hello,) = other_browser.client.get(f"/live/poll?state={theirs}", headers=SAME_ORIGIN).json[
        "messages"
    ]
    assert hello_state(hello) == ":0"  # the stranger's own (empty) cart, not the one named


@pytest.mark.parametrize(
    "state",
    ["abc", "1:", ":x", "1:2:3", "1:" + "9" * 12, "x" * 65 + ":1", "1:%C2%B2", "1:-1", "<b>:1"],
)
def test_a_poll_with_a_malformed_state_is_refused(browser, state):
    response = browser.client.get(f"/live/poll?state={state}", headers=SAME_ORIGIN)
    assert response.status_code == 400
    error = refused(response)
    assert error["code"] == "bad_request" and "state" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "http://evil.example", "X-CSRF-Token": "whatever"},
    ],
)
def test_a_poll_from_another_site_is_refused(browser, headers):
    browser.ensure_csrf()
    response = browser.client.get("/live/poll", headers=headers)
    assert response.status_code == 403 and refused(response)["code"] == "cross_site"


def test_a_poll_that_says_nothing_of_its_origin_needs_the_pages_token(browser):
    """Over plain http to a host other than localhost a browser sends no Sec-Fetch-Site and no
    Origin on a same-origin GET: the page's CSRF token in a header (which no other site can
    read or send) stands in for them."""
    browser.ensure_csrf()
    without = browser.client.get("/live/poll")
    assert without.status_code == 403 and refused(without)["code"] == "csrf_failed"
    forged = browser.client.get("/live/poll", headers={"X-CSRF-Token": browser.csrf[:-3] + "abc"})
    assert forged.status_code == 403
    response = browser.client.get("/live/poll", headers={"X-CSRF-Token": browser.csrf})
    assert response.status_code == 200 and "hello" in response.json["messages"][0]


def test_polls_do_not_keep_a_signed_in_session_alive(browser, monkeypatch, make_product):
    monkeypatch.setattr(fallback, "POLL_SECONDS", 0.05)
    browser.register("poller@example.com")
    browser.add(make_product(), 2)
    for _ in range(4):  # a page left open, polling for 40 minutes
        clock.advance(timedelta(minutes=10))
        response = browser.client.get("/live/poll", headers=SAME_ORIGIN)
        assert response.status_code == 200
    assert browser.cart()["item_count"] == 0  # signed out: the polls were not activity
    browser.login("poller@example.com")
    assert browser.cart()["item_count"] == 2


def test_a_page_request_still_keeps_the_session_alive(browser, make_product):
    """The counterpart of the test above: the same 40 minutes with page requests."""
    browser.register("reader@example.com")
    browser.add(make_product(), 2)
    for _ in range(4):
        clock.advance(timedelta(minutes=10))
        browser.page("/")
    assert browser.cart()["item_count"] == 2


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_the_live_addresses_only_answer_get(browser, method):
    for path in ("/live/poll", "/live/events"):
        response = browser.client.open(path, method=method, headers=SAME_ORIGIN)
        assert response.status_code == 405, (path, response.status_code)
        assert refused(response)["code"] == "bad_request"


def test_a_stream_on_one_instance_hears_a_change_made_on_another(
    database_url, tmp_path, monkeypatch
):
    """Two instances of one shop (one database, one Redis prefix): the fallback's feed is the
    same fan-out as the socket's."""
    from storefront import create_app
    from tests.conftest import app_settings
    from tests.test_realtime import REDIS_URL

    monkeypatch.setattr(fallback, "KEEPALIVE_SECONDS", 0.05)  # reads never wait long
    prefix = f"sftest-{secrets.token_hex(4)}"
    one, two = (
        create_app(
            app_settings(
                database_url,
                str(tmp_path / name),
                STOREFRONT_REDIS_URL=REDIS_URL,
                STOREFRONT_REDIS_PREFIX=prefix,
            )
        )
        for name in ("one", "two")
    )
    with serve(one) as first, serve(two) as second:
        writer = HttpShopper(first)
        reader = EventStream(second, writer.cookie, SAME_ORIGIN)  # the same shopper, elsewhere
        reader.until("hello")
        heard: list[str] = []
        deadline = time.monotonic() + 10
        # Until the second instance's Redis subscriber is up (it starts with the stream).
        while not heard and time.monotonic() < deadline:
            status, body = writer.call("POST", "/cart/lines", {"sku": "DEMO-0030", "quantity": 1})
            assert status == 200, body
            heard = reader.events_within(1.0)
        assert heard and 'data-sku="DEMO-0030"' in heard[0]
        reader.close()
