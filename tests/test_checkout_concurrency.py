"""Checkouts racing against a live server: never oversold, never ordered or charged twice."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storefront.catalog.models import Product
from storefront.checkout import setup
from storefront.checkout.models import Coupon
from storefront.extensions import db
from storefront.orders import stock
from storefront.orders.models import Order
from tests.live import HttpShopper as Shopper
from tests.live import serve
from tests.test_concurrency import in_parallel

ADDRESS = {
    "name": "Ada",
    "address_line1": "1 Row",
    "city": "London",
    "postal_code": "N1",
    "country": "GB",
}
PAY = {"payment": {"provider": "test", "token": "tok_ok"}}


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test", "STOREFRONT_CHECKOUT_RATE_LIMIT": "1000/second"}


@pytest.fixture
def live_url(app):
    with serve(app) as base:
        yield base


def shopper_ready(base, sku, quantity=1, n=0, **details) -> Shopper:
    shopper = Shopper(base)
    status, body = shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": quantity})
    assert status == 200, body
    body = {"email": f"s{n}@example.com", "address": ADDRESS, "shipping_method": "standard"}
    status, body = shopper.call("PUT", "/checkout", {**body, **details})
    assert status == 200, body
    return shopper


def facts(app, sku):
    with app.app_context():
        left = db.session.scalar(select(Product.stock).where(Product.sku == sku))
        orders = db.session.scalar(select(func.count()).select_from(Order))
        mismatched = stock.mismatches()
        db.session.remove()
    return left, orders, mismatched


def test_fifty_shoppers_racing_for_the_last_three_units(app, live_url, make_product):
    sku = make_product(stock=3)
    shoppers = [shopper_ready(live_url, sku, n=n) for n in range(50)]
    results = in_parallel(50, lambda n: shoppers[n].call("POST", "/checkout/complete", PAY))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 3, results
    refused = [body["error"] for status, body in results if status != 201]
    assert {e["code"] for e in refused} == {"out_of_stock"}
    assert all(e["skus"] == [sku] for e in refused)
    assert facts(app, sku) == (0, 3, [])


def test_twenty_completions_with_one_key_make_one_order(app, live_url, make_product):
    sku = make_product(stock=10)
    shopper = shopper_ready(live_url, sku, 2)
    key = {"Idempotency-Key": "one-press"}
    results = in_parallel(20, lambda n: shopper.call("POST", "/checkout/complete", PAY, key))
    assert {status for status, _ in results} == {201}, results
    assert len({body["order"]["number"] for _, body in results}) == 1
    assert facts(app, sku) == (8, 1, [])


def test_two_devices_pressing_place_order_together_make_one_order(app, live_url, make_product):
    sku = make_product(stock=10)
    phone = shopper_ready(live_url, sku, 2)
    laptop = Shopper(live_url, phone.cookie)
    devices = [phone, laptop]
    results = in_parallel(
        2,
        lambda n: devices[n].call(
            "POST", "/checkout/complete", PAY, {"Idempotency-Key": f"device-{n}"}
        ),
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    (refused,) = [body["error"]["code"] for status, body in results if status == 409]
    assert refused in ("checkout_in_progress", "empty_cart")
    assert facts(app, sku) == (8, 1, [])


def test_two_checkouts_racing_for_a_coupon_limited_to_one(app, live_url, make_product):
    sku = make_product(stock=10)
    with app.app_context():
        setup.create_coupon("ONCE", "percent", value="50", usage_limit=1)
        db.session.remove()
    shoppers = [shopper_ready(live_url, sku, n=n, coupon="ONCE") for n in range(2)]
    results = in_parallel(2, lambda n: shoppers[n].call("POST", "/checkout/complete", PAY))
    assert sorted(status for status, _ in results) == [201, 422], results
    (refused,) = [body["error"] for status, body in results if status == 422]
    assert refused["code"] == "invalid_coupon" and "used up" in refused["message"]
    with app.app_context():
        assert db.session.scalar(select(Coupon.used).where(Coupon.code == "ONCE")) == 1
    assert facts(app, sku) == (9, 1, [])


def test_two_lines_of_one_product_within_stock_alone_but_not_together(app, live_url, make_product):
    sku = make_product(stock=3, options="colour:Red|Blue!")
    shopper = Shopper(live_url)
    for colour in ("Red", "Blue"):
        body = {"sku": sku, "quantity": 2, "options": {"colour": colour}}
        assert shopper.call("POST", "/cart/lines", body)[0] == 200
    body = {"email": "a@example.com", "address": ADDRESS, "shipping_method": "standard"}
    assert shopper.call("PUT", "/checkout", body)[0] == 200
    status, body = shopper.call("POST", "/checkout/complete", PAY)
    assert status == 409 and body["error"]["code"] == "out_of_stock"
    assert body["error"]["skus"] == [sku]
    assert facts(app, sku) == (3, 0, [])
