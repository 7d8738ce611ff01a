"""Many writers at once against a live server: no lost update, no double apply."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live import HttpShopper as Shopper
from tests.live import serve

WRITERS = 40


@pytest.fixture
def live_url(app):
    with serve(app) as base:
        yield base


def in_parallel(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(n):
        barrier.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_forty_simultaneous_adds_to_a_new_cart_lose_nothing(live_url, make_products):
    skus = make_products(5)
    shopper = Shopper(live_url)
    results = in_parallel(
        WRITERS,
        lambda n: shopper.call("POST", "/cart/lines", {"sku": skus[n % 5], "quantity": 1}),
    )
    assert all(status == 200 for status, _ in results), results
    assert sorted(body["version"] for _, body in results) == list(range(1, WRITERS + 1))
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == WRITERS and cart["item_count"] == WRITERS
    assert len(cart["lines"]) == 5


def test_forty_simultaneous_quantity_changes_leave_one_consistent_winner(live_url, make_product):
    shopper = Shopper(live_url)
    _, cart = shopper.call("POST", "/cart/lines", {"sku": make_product(), "quantity": 1})
    line_id = cart["lines"][0]["id"]
    results = in_parallel(
        WRITERS, lambda n: shopper.call("PATCH", f"/cart/lines/{line_id}", {"quantity": n + 1})
    )
    assert all(status == 200 for status, _ in results)
    last = max(results, key=lambda r: r[1]["version"])[1]
    _, final = shopper.call("GET", "/cart")
    assert final["version"] == WRITERS + 1
    assert final["lines"][0]["quantity"] == last["lines"][0]["quantity"]


def test_forty_simultaneous_duplicates_of_one_key_apply_once(live_url, make_product):
    sku = make_product()
    shopper = Shopper(live_url)
    key = {"Idempotency-Key": "the-same-key"}
    results = in_parallel(
        WRITERS,
        lambda n: shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": 2}, key),
    )
    assert all(status == 200 for status, _ in results), results
    assert {body["version"] for _, body in results} == {1}
    assert {body["item_count"] for _, body in results} == {2}
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == 1 and cart["item_count"] == 2


def test_simultaneous_if_match_writers_exactly_one_wins(live_url, make_product):
    first, second = make_product(), make_product()
    shopper = Shopper(live_url)
    shopper.call("POST", "/cart/lines", {"sku": first, "quantity": 1})
    results = in_parallel(
        10,
        lambda n: shopper.call(
            "POST", "/cart/lines", {"sku": second, "quantity": 1}, {"If-Match": '"1"'}
        ),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [412] * 9
    _, cart = shopper.call("GET", "/cart")
    assert cart["version"] == 2 and cart["item_count"] == 2
