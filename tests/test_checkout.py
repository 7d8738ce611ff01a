"""Checkout through the JSON API and the page: exact totals, orders placed once, refusals that
change nothing (no order, no stock taken, no coupon used, the cart as it was)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storefront.catalog.models import Product
from storefront.checkout.models import Coupon
from storefront.extensions import db
from storefront.orders import stock
from storefront.orders.models import Order

ADDRESS = {
    "name": "Ada Lovelace",
    "address_line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 1AA",
    "country": "GB",
}


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


def ready(browser, sku, quantity=1, **details):
    assert browser.add(sku, quantity).status_code == 200
    body = {"email": "ada@example.com", "address": ADDRESS, "shipping_method": "standard"}
    response = browser.api("PUT", "/checkout", json={**body, **details})
    assert response.status_code == 200, response.json
    return response.json


def complete(browser, token="tok_ok", provider="test", **headers):
    body = {"payment": {"provider": provider, "token": token}}
    return browser.api("POST", "/checkout/complete", json=body, headers=headers)


def stock_of(app, sku):
    with app.app_context():
        return db.session.scalar(select(Product.stock).where(Product.sku == sku))


def orders_count(app):
    with app.app_context():
        return len(db.session.scalars(select(Order)).all())


def test_the_contracts_worked_example_to_the_cent(browser, make_product):
    sku = make_product(price="13.99")
    checkout = ready(browser, sku, 3, coupon="welcome10")
    assert {k: checkout[k] for k in ("subtotal", "discount", "shipping", "tax", "total")} == {
        "subtotal": "41.97",
        "discount": "4.20",
        "shipping": "5.00",
        "tax": "4.28",
        "total": "47.05",
    }
    assert checkout["coupon"] == "WELCOME10" and checkout["shipping_method"] == "standard"
    assert [m["id"] for m in checkout["shipping_methods"]] == ["standard", "pickup"]


def test_a_paid_order_takes_stock_and_the_lines_leave_the_cart(app, browser, make_product):
    sku = make_product(price="13.99", stock=10)
    checkout = ready(browser, sku, 3, coupon="WELCOME10")
    response = complete(browser, **{"Idempotency-Key": "k1", "If-Match": '"1"'})
    assert response.status_code == 201, response.json
    order = response.json["order"]
    assert order["status"] == "paid" and order["payment"] == {
        "provider": "test",
        "status": "captured",
    }
    assert order["total"] == checkout["total"] == "47.05"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(sku, 3)]
    assert stock_of(app, sku) == 7
    assert browser.cart()["lines"] == []
    assert browser.api("GET", f"/orders/{order['number']}").json == order
    with app.app_context():
        assert stock.mismatches() == []


def test_a_declined_card_changes_nothing(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku, 2, coupon="WELCOME10")
    before = browser.cart()
    with app.app_context():
        used = db.session.scalar(select(Coupon.used).where(Coupon.code == "WELCOME10"))
    response = complete(browser, token="tok_declined")
    assert response.status_code == 402 and response.json["error"]["code"] == "payment_declined"
    assert "declined" in response.json["error"]["message"]
    assert browser.cart() == before
    assert stock_of(app, sku) == 5 and orders_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(Coupon.used).where(Coupon.code == "WELCOME10")) == used
        assert stock.mismatches() == []


def test_an_unreachable_provider_is_a_502_that_changes_nothing(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku, 2)
    before = browser.cart()
    response = complete(browser, token="tok_error")
    assert response.status_code == 502 and response.json["error"]["code"] == "payment_unavailable"
    assert browser.cart() == before and stock_of(app, sku) == 5 and orders_count(app) == 0


def test_a_repeated_key_gets_the_same_order(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku, 1)
    first = complete(browser, **{"Idempotency-Key": "same"})
    again = complete(browser, **{"Idempotency-Key": "same"})
    assert first.status_code == again.status_code == 201
    assert first.json["order"]["number"] == again.json["order"]["number"]
    assert orders_count(app) == 1 and stock_of(app, sku) == 4


def test_a_manual_order_is_pending_and_holds_its_stock(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku, 2)
    response = complete(browser, provider="manual", token=None)
    assert response.status_code == 201, response.json
    order = response.json["order"]
    assert order["status"] == "pending" and "held_until" in order
    assert stock_of(app, sku) == 3


def test_what_is_missing_is_named(browser, make_product):
    sku = make_product()
    browser.add(sku)
    response = complete(browser)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "checkout_incomplete"
    assert set(error["fields"]) >= {"email", "name", "address_line1", "city", "country"}


def test_an_empty_cart_cannot_be_ordered(browser):
    response = complete(browser)
    assert response.status_code == 409 and response.json["error"]["code"] == "empty_cart"


def test_more_than_in_stock_is_refused_with_the_skus(app, browser, make_product):
    sku = make_product(stock=3)
    ready(browser, sku, 3)
    with app.app_context():
        db.session.execute(Product.__table__.update().where(Product.sku == sku).values(stock=2))
        db.session.commit()
    response = complete(browser)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "out_of_stock"
    assert response.json["error"]["skus"] == [sku]
    assert orders_count(app) == 0 and stock_of(app, sku) == 2


def test_the_checkout_page_places_an_order_without_javascript(app, browser, make_product):
    sku = make_product(name="Blue Mug", price="13.99")
    browser.add(sku, 3)
    page = browser.page("/checkout")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="checkout-total"' in text
    form = {
        "email": "ada@example.com",
        **ADDRESS,
        "shipping_method": "standard",
        "coupon": "WELCOME10",
        "payment_provider": "test",
        "payment_token": "tok_ok",
        "idempotency_key": "page-key",
    }
    response = browser.form("/checkout", form)
    assert response.status_code == 303, response.get_data(as_text=True)
    order_page = browser.page(response.headers["Location"])
    html = order_page.get_data(as_text=True)
    assert 'data-testid="order-number">1001<' in html
    assert "$47.05" in html and 'data-sku="' + sku in html


def test_a_signed_in_shopper_finds_their_email_filled_in(browser, make_product):
    browser.register("grace@example.com")
    browser.add(make_product())
    assert browser.api("GET", "/checkout").json["email"] == "grace@example.com"
    assert 'value="grace@example.com"' in browser.page("/checkout").get_data(as_text=True)


def test_details_are_kept_with_the_cart_for_another_device(app, browser, make_product):
    browser.register("hopper@example.com")
    ready(browser, make_product(), phone="+44 20 7946 0000")
    other = type(browser)(app.test_client())
    other.login("hopper@example.com")
    checkout = other.api("GET", "/checkout").json
    assert checkout["address"]["city"] == "London" and checkout["phone"] == "+44 20 7946 0000"


def test_a_pickup_needs_no_street_address(browser, make_product):
    browser.add(make_product())
    body = {"email": "a@example.com", "address": {"name": "Ada", "country": "US"}}
    browser.api("PUT", "/checkout", json={**body, "shipping_method": "pickup"})
    response = complete(browser)
    assert response.status_code == 201, response.json
    assert response.json["order"]["shipping"] == "0.00"


def test_the_cart_page_estimates_the_total_the_checkout_will_show(browser, make_product):
    browser.add(make_product(price="13.99"), 3)
    html = browser.page("/cart").get_data(as_text=True)
    total = browser.api("GET", "/checkout").json["total"]
    assert total == "51.67"  # 41.97 + 5.00 shipping + 10 % tax on both
    assert f"Estimated total ${total}" in html and 'data-testid="cart-checkout"' in html


def test_another_shoppers_order_is_not_found_like_a_missing_one(app, browser, make_product):
    ready(browser, make_product())
    number = complete(browser).json["order"]["number"]
    stranger = type(browser)(app.test_client())
    for path in (f"/api/v1/orders/{number}", "/api/v1/orders/999999"):
        response = stranger.client.get(path)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert stranger.client.get(f"/orders/{number}").status_code == 404
    assert stranger.api("GET", "/orders").json == {"orders": []}


def test_a_signed_link_opens_the_order_for_whoever_holds_it(app, browser, make_product):
    from storefront.orders import placed_here
    from storefront.orders import services as orders

    ready(browser, make_product())
    number = complete(browser).json["order"]["number"]
    with app.test_request_context():
        link = placed_here.signed_url(orders.by_number(number), external=False)
    stranger = app.test_client()
    assert stranger.get(link).status_code == 200
    assert stranger.get(link.replace("key=", "key=x")).status_code == 404
    assert stranger.get(f"/orders/{int(number) + 1}?{link.split('?')[1]}").status_code == 404


@pytest.mark.parametrize(
    "coupon, refusal",
    [
        ("NOSUCH", "not known"),
        ("OLD", "expired"),
        ("LATER", "not valid yet"),
        ("BIG", "needs a larger order"),
        ("DONE", "used up"),
    ],
)
def test_a_refused_coupon_says_why_and_the_previous_one_stays(
    app, browser, make_product, coupon, refusal
):
    from datetime import UTC, datetime, timedelta

    from storefront.checkout import setup

    now = datetime.now(UTC)
    with app.app_context():
        setup.create_coupon("OLD", "percent", value="5", ends_at=now - timedelta(days=1))
        setup.create_coupon("LATER", "percent", value="5", starts_at=now + timedelta(days=1))
        setup.create_coupon("BIG", "fixed", value="5.00", min_subtotal="1000.00")
        setup.create_coupon("DONE", "percent", value="5", usage_limit=1)
        db.session.execute(Coupon.__table__.update().where(Coupon.code == "DONE").values(used=1))
        db.session.commit()
    ready(browser, make_product(), coupon="WELCOME10")
    response = browser.api("PUT", "/checkout", json={"coupon": coupon})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_coupon"
    assert refusal in response.json["error"]["message"]
    assert browser.api("GET", "/checkout").json["coupon"] == "WELCOME10"


def test_a_once_per_customer_coupon_is_used_once(app, browser, make_product):
    from storefront.checkout import setup

    with app.app_context():
        setup.create_coupon("FIRST", "percent", value="20", once_per_customer=True)
    sku = make_product(stock=10)
    ready(browser, sku, coupon="FIRST")
    assert complete(browser).status_code == 201
    ready(browser, sku, coupon="FIRST")  # the same email, a new cart's worth
    response = complete(browser)
    assert response.status_code == 422 and "already used" in response.json["error"]["message"]
    assert stock_of(app, sku) == 9


def test_a_repeated_key_is_answered_before_the_rate_limit(app, make_product):
    from storefront import create_app
    from tests.conftest import app_settings
    from tests.helpers import Browser

    limited = create_app(
        app_settings(
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.instance_path,
            STOREFRONT_PAYMENT_PROVIDERS="test",
            STOREFRONT_CHECKOUT_RATE_LIMIT="1/minute",
        )
    )
    browser = Browser(limited.test_client())
    sku = make_product(stock=10)
    ready(browser, sku)
    assert complete(browser, **{"Idempotency-Key": "k"}).status_code == 201
    assert complete(browser, **{"Idempotency-Key": "k"}).status_code == 201
    ready(browser, sku)
    response = complete(browser, **{"Idempotency-Key": "new"})
    assert response.status_code == 429 and response.json["error"]["code"] == "rate_limited"


def test_the_database_itself_refuses_stock_below_zero(app, make_product):
    from sqlalchemy.exc import IntegrityError

    sku = make_product(stock=1)
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                Product.__table__.update().where(Product.sku == sku).values(stock=-1)
            )
            db.session.flush()
        db.session.rollback()
    assert stock_of(app, sku) == 1


def test_a_refused_page_order_keeps_the_chosen_payment_method(browser, make_product):
    browser.add(make_product())
    form = {
        "email": "a@example.com",
        **ADDRESS,
        "shipping_method": "standard",
        "payment_provider": "manual",
        "coupon": "NOSUCH",
        "idempotency_key": "x",
    }
    response = browser.form("/checkout", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="manual" data-testid="payment-manual" checked' in html
    assert "That coupon code is not known." in html
