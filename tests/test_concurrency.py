"""Many writers at once against a live server: no lost update, no double apply."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.serving import make_server

WRITERS = 40


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


class Shopper:
    """One shopper's cookie and CSRF token, shared by many threads as many tabs would."""

    def __init__(self, base: str):
        self.base = base
        with urllib.request.urlopen(base + "/") as response:
            self.cookie = response.headers["Set-Cookie"].split(";")[0]
            html = response.read().decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)

    def call(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + "/api/v1" + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Cookie": self.cookie,
                "X-CSRF-Token": self.csrf,
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def in_parallel(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(n):
        barrier.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_forty_simultaneous_adds_to_a_new_cart_lose_nothing(live_url):
    shopper = Shopper(live_url)
    results = in_parallel(
        WRITERS,
        lambda n: shopper.call(
            "POST", "/cart/lines", {"sku": f"DEMO-{100 + n % 5:04d}", "quantity": 1}
        ),
    )
    assert all(status == 200 for status, _ in results), results
    assert sorted(body["version"] for _, body in results) == list(range(1, WRITERS + 1))
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == WRITERS and cart["item_count"] == WRITERS
    assert len(cart["lines"]) == 5


def test_forty_simultaneous_quantity_changes_leave_one_consistent_winner(live_url):
    shopper = Shopper(live_url)
    _, cart = shopper.call("POST", "/cart/lines", {"sku": "DEMO-0030", "quantity": 1})
    line_id = cart["lines"][0]["id"]
    results = in_parallel(
        WRITERS, lambda n: shopper.call("PATCH", f"/cart/lines/{line_id}", {"quantity": n + 1})
    )
    assert all(status == 200 for status, _ in results)
    last = max(results, key=lambda r: r[1]["version"])[1]
    _, final = shopper.call("GET", "/cart")
    assert final["version"] == WRITERS + 1
    assert final["lines"][0]["quantity"] == last["lines"][0]["quantity"]


def test_forty_simultaneous_duplicates_of_one_key_apply_once(live_url):
    shopper = Shopper(live_url)
    key = {"Idempotency-Key": "the-same-key"}
    results = in_parallel(
        WRITERS,
        lambda n: shopper.call("POST", "/cart/lines", {"sku": "DEMO-0030", "quantity": 2}, key),
    )
    assert all(status == 200 for status, _ in results), results
    assert {body["version"] for _, body in results} == {1}
    assert {body["item_count"] for _, body in results} == {2}
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == 1 and cart["item_count"] == 2


def test_simultaneous_if_match_writers_exactly_one_wins(live_url):
    shopper = Shopper(live_url)
    shopper.call("POST", "/cart/lines", {"sku": "DEMO-0030", "quantity": 1})
    results = in_parallel(
        10,
        lambda n: shopper.call(
            "POST", "/cart/lines", {"sku": "DEMO-0031", "quantity": 1}, {"If-Match": '"1"'}
        ),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * 9
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == 2 and cart["item_count"] == 2
