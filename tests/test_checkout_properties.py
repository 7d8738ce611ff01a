"""Property: whatever the cart, coupon, method and tax mode, the order carries exactly the
totals its checkout quoted, they add up, and nothing is negative."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from storefront.checkout import setup
from storefront.extensions import db
from tests.factories import make_product
from tests.helpers import Browser

AMOUNTS = ("subtotal", "discount", "shipping", "tax", "total")
COUPONS = {
    "NONE": None,
    "PCT": ("percent", "12.5"),
    "FIX": ("fixed", "7.00"),
    "FREE": ("free_shipping", "0"),
}


@pytest.fixture(params=[False, True], ids=["tax-added", "tax-included"])
def tax_included(request):
    return request.param


@pytest.fixture
def settings(tax_included):
    return {
        "STOREFRONT_PAYMENT_PROVIDERS": "test",
        "STOREFRONT_PRICES_INCLUDE_TAX": "true" if tax_included else "false",
        "STOREFRONT_CHECKOUT_RATE_LIMIT": "10000/second",
    }


@pytest.fixture
def coupons(app):
    with app.app_context():
        for code, spec in COUPONS.items():
            if spec:
                setup.create_coupon(code, spec[0], value=spec[1])
        db.session.remove()


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


@examples(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.tuples(st.integers(1, 99_999), st.integers(1, 5)), min_size=1, max_size=4),
    coupon=st.sampled_from(sorted(COUPONS)),
    method=st.sampled_from(["standard", "pickup"]),
)
def test_the_order_is_the_quote_it_was_placed_from(app, coupons, lines, coupon, method):
    browser = Browser(app.test_client())
    with app.app_context():
        skus = [make_product(price=f"{price / 100:.2f}", stock=10) for price, _ in lines]
    for sku, (_, quantity) in zip(skus, lines, strict=True):
        assert browser.add(sku, quantity).status_code == 200
    details = {
        "email": "p@example.com",
        "address": {
            "name": "P",
            "address_line1": "1",
            "city": "C",
            "postal_code": "1",
            "country": "NL",
        },
        "shipping_method": method,
        "coupon": None if coupon == "NONE" else coupon,
    }
    quoted = browser.api("PUT", "/checkout", json=details).json
    placed = browser.api(
        "POST", "/checkout/complete", json={"payment": {"provider": "test", "token": "tok_ok"}}
    )
    assert placed.status_code == 201, placed.json
    order = placed.json["order"]
    assert {k: order[k] for k in AMOUNTS} == {k: quoted[k] for k in AMOUNTS}
    values = {k: cents(order[k]) for k in AMOUNTS}
    assert values["total"] == (
        values["subtotal"] - values["discount"] + values["shipping"] + values["tax"]
    )
    assert all(v >= 0 for v in values.values())
    assert order.get("tax_included", "0.00") == quoted.get("tax_included", "0.00")
