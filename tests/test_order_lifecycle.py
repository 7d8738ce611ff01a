"""After the order: Stripe's redirect, its webhook and its cancel address; unpaid orders expired
on time; a payment cut off by a crash settled by the clean-up job; buy again."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from storefront import clock, jobs
from storefront.catalog.models import Product
from storefront.checkout import placing
from storefront.checkout.models import PaymentAttempt
from storefront.checkout.providers.stripe_provider import StripeProvider
from storefront.extensions import db
from storefront.orders import stock
from storefront.orders.models import Order
from tests.test_checkout import ADDRESS
from tests.test_stripe_provider import (
    SECRET_KEY,
    SESSION,
    WEBHOOK_SECRET,
    Answer,
    RecordedStripe,
    event,
    fixture,
    sign,
)


@pytest.fixture
def settings():
    return {
        "STOREFRONT_PAYMENT_PROVIDERS": "stripe,manual,test",
        "STOREFRONT_STRIPE_SECRET_KEY": SECRET_KEY,
        "STOREFRONT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def use_stripe(app, *answers) -> RecordedStripe:
    http = RecordedStripe(*answers)
    providers = app.extensions["storefront.payment_providers"]
    providers["stripe"] = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, http_client=http)
    return http


def ready(browser, sku, quantity=2):
    assert browser.add(sku, quantity).status_code == 200
    body = {"email": "ada@example.com", "address": ADDRESS, "shipping_method": "standard"}
    response = browser.api("PUT", "/checkout", json=body)
    assert response.status_code == 200, response.json


def place(browser, provider, token=None):
    body = {"payment": {"provider": provider, "token": token}}
    return browser.api("POST", "/checkout/complete", json=body)


def facts(app, sku):
    with app.app_context():
        left = db.session.scalar(select(Product.stock).where(Product.sku == sku))
        statuses = [o.status for o in db.session.scalars(select(Order).order_by(Order.number))]
        assert stock.mismatches() == []
        db.session.remove()
    return left, statuses


def attempt_id(app) -> str:
    with app.app_context():
        return db.session.scalar(select(PaymentAttempt.id))


def session_event(name, attempt, **changes):
    return event(name, client_reference_id=attempt, metadata={"attempt_id": attempt}, **changes)


def webhook(browser, payload, signature=None):
    header = sign(payload) if signature is None else signature
    return browser.client.post(
        "/payments/stripe/webhook", data=payload, headers={"Stripe-Signature": header}
    )


def test_stripe_redirects_then_its_webhook_marks_the_order_paid(app, browser, make_product):
    sku = make_product(stock=5, price="2.50")
    ready(browser, sku)
    http = use_stripe(app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json")))
    response = place(browser, "stripe")
    assert response.status_code == 201, response.json
    assert response.json["redirect"].startswith("https://checkout.stripe.com/")
    assert response.json["order"]["status"] == "pending"
    sent = http.sent[0]
    assert sent.field("line_items[0][price_data][unit_amount]") == "1100"  # 2 × 5.00 + 10 %
    assert sent.headers["Idempotency-Key"] == attempt_id(app)
    assert int(sent.field("expires_at")) - time.time() > 29 * 60  # 15 min hold; Stripe: 30
    assert browser.cart()["lines"] == []  # held for the order while the shopper pays
    assert facts(app, sku) == (3, ["pending"])

    paid = session_event("event_session_completed.json", attempt_id(app))
    assert webhook(browser, paid).status_code == 200
    assert facts(app, sku) == (3, ["paid"])
    assert webhook(browser, paid).json["outcome"] == "already settled"  # Stripe retries


def test_a_webhook_with_a_wrong_signature_is_refused(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    use_stripe(app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json")))
    place(browser, "stripe")
    paid = session_event("event_session_completed.json", attempt_id(app))
    forged = sign(paid, secret="whsec_not_ours")
    assert webhook(browser, paid, forged).status_code == 400
    assert webhook(browser, paid, "").status_code == 400
    assert facts(app, sku) == (3, ["pending"])


def test_back_from_an_abandoned_stripe_page_the_cart_is_as_it_was(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    before = browser.cart()
    use_stripe(app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json")))
    place(browser, "stripe")
    attempt = attempt_id(app)
    recorded = use_stripe(
        app,
        Answer(
            "GET",
            f"/v1/checkout/sessions/{SESSION}",
            {**fixture("session_open.json"), "client_reference_id": attempt},
        ),
    )
    browser.page("/")
    response = browser.client.get(f"/checkout/payment-cancelled?attempt={attempt}")
    assert response.status_code == 303
    recorded.done()
    cart = browser.cart()
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [
        (line["sku"], line["quantity"]) for line in before["lines"]
    ]
    assert facts(app, sku) == (5, ["cancelled"])


def test_unpaid_orders_are_cancelled_on_time_and_their_stock_returns(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    assert place(browser, "manual").json["order"]["status"] == "pending"
    with app.app_context():
        clock.advance(timedelta(days=6))
        assert jobs.run_once().orders_expired == 0  # still within its 7 days
        clock.advance(timedelta(days=1, minutes=1))
        assert jobs.run_once().orders_expired == 1
        assert jobs.run_once().orders_expired == 0  # done once
        db.session.remove()
    assert facts(app, sku) == (5, ["cancelled"])


def test_a_stripe_order_paid_but_not_told_is_found_paid_at_expiry(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    use_stripe(app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json")))
    place(browser, "stripe")
    paid_session = {
        **fixture("session_paid.json"),
        "id": SESSION,
        "client_reference_id": attempt_id(app),
    }
    use_stripe(app, Answer("GET", f"/v1/checkout/sessions/{SESSION}", paid_session))
    with app.app_context():
        clock.advance(timedelta(minutes=16))
        assert jobs.run_once().orders_expired == 1
        db.session.remove()
    assert facts(app, sku) == (3, ["paid"])


class Crash(BaseException):
    """The worker dies between taking the stock and hearing from the provider."""


def test_a_payment_cut_off_by_a_crash_is_settled_and_its_stock_returns(
    app, browser, make_product, monkeypatch
):
    sku = make_product(stock=5)
    ready(browser, sku)
    before = browser.cart()
    test_provider = app.extensions["storefront.payment_providers"]["test"]

    def crash(request):
        raise Crash()

    monkeypatch.setattr(test_provider, "start", crash)
    with pytest.raises(Crash):
        place(browser, "test", "tok_ok")
    monkeypatch.undo()
    assert facts(app, sku) == (3, [])  # held by the open attempt
    assert place(browser, "test", "tok_ok").json["error"]["code"] == "checkout_in_progress"
    with app.app_context():
        clock.advance(placing.SETTLE_AFTER + timedelta(seconds=1))
        assert jobs.run_once().attempts_settled == 1
        db.session.remove()
    assert facts(app, sku) == (5, [])
    assert browser.cart() == before


def test_buy_again_puts_the_ordered_lines_back(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    number = place(browser, "test", "tok_ok").json["order"]["number"]
    assert browser.cart()["lines"] == []
    response = browser.form(f"/orders/{number}/buy-again", {"idempotency_key": "again"})
    assert response.status_code == 303
    assert [(line["sku"], line["quantity"]) for line in browser.cart()["lines"]] == [(sku, 2)]


def test_the_history_says_which_order_took_the_lines(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    number = place(browser, "test", "tok_ok").json["order"]["number"]
    history = browser.api("GET", "/cart/history").json
    assert json.dumps(history).count(f"order {number}") == 1


def test_the_web_process_expires_orders_by_itself(app, browser, make_product):
    """What gunicorn's worker start-up runs (server.start_jobs): no command needed."""
    sku = make_product(stock=5)
    ready(browser, sku)
    place(browser, "manual")
    clock.advance(timedelta(days=8))
    stop = jobs.start_in_background(app, interval=0.02)
    try:
        deadline = time.monotonic() + 10
        while facts(app, sku)[1] != ["cancelled"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
    assert facts(app, sku) == (5, ["cancelled"])


def test_a_payment_taken_just_before_a_crash_becomes_the_order(
    app, browser, make_product, monkeypatch
):
    sku = make_product(stock=5)
    ready(browser, sku)
    test_provider = app.extensions["storefront.payment_providers"]["test"]
    charge = test_provider.start

    def charge_then_crash(request):
        charge(request)  # the money moved...
        raise Crash()  # ...and the worker died before recording it

    monkeypatch.setattr(test_provider, "start", charge_then_crash)
    with pytest.raises(Crash):
        place(browser, "test", "tok_ok")
    monkeypatch.undo()
    with app.app_context():
        clock.advance(placing.SETTLE_AFTER + timedelta(seconds=1))
        assert jobs.run_once().attempts_settled == 1
        db.session.remove()
    assert facts(app, sku) == (3, ["paid"])
    assert browser.cart()["lines"] == []  # the order took its lines, as if nothing had happened


def test_a_stripe_payment_for_an_attempt_given_up_is_refunded(
    app, browser, make_product, monkeypatch
):
    """Stripe's page was opened, the worker died before the order was recorded, the job gave
    the stock back; then the shopper paid on Stripe's page. No goods, so the money goes back."""
    sku = make_product(stock=5, price="2.50")
    ready(browser, sku)
    stripe_provider = StripeProvider(
        SECRET_KEY,
        WEBHOOK_SECRET,
        http_client=RecordedStripe(
            Answer("POST", "/v1/checkout/sessions", fixture("session_open.json"))
        ),
    )
    opened = stripe_provider.start

    def open_then_crash(request):
        opened(request)
        raise Crash()

    monkeypatch.setattr(stripe_provider, "start", open_then_crash)
    app.extensions["storefront.payment_providers"]["stripe"] = stripe_provider
    with pytest.raises(Crash):
        place(browser, "stripe")
    with app.app_context():
        clock.advance(placing.SETTLE_AFTER + timedelta(seconds=1))
        assert jobs.run_once().attempts_settled == 1
        db.session.remove()
    assert facts(app, sku) == (5, [])
    paid_session = {**fixture("session_paid.json"), "id": SESSION}
    refunds = use_stripe(
        app,
        Answer("GET", f"/v1/checkout/sessions/{SESSION}", paid_session),
        Answer("POST", "/v1/refunds", fixture("refund_succeeded.json")),
    )
    paid = session_event("event_session_completed.json", attempt_id(app))
    response = webhook(browser, paid)
    assert response.status_code == 200
    assert response.json["outcome"] == "refunded: paid after the attempt was given up"
    refunds.done()
    refund = refunds.sent[1]
    assert refund.field("amount") == "1100" and refund.headers["Idempotency-Key"].startswith(
        "late-"
    )
    assert facts(app, sku) == (5, [])


def test_back_from_stripe_while_stripe_cannot_be_asked_the_order_waits(app, browser, make_product):
    sku = make_product(stock=5)
    ready(browser, sku)
    use_stripe(app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json")))
    place(browser, "stripe")
    attempt = attempt_id(app)
    use_stripe(app, *[Answer("GET", f"/v1/checkout/sessions/{SESSION}", fails=True)] * 3)
    response = browser.client.get(f"/checkout/payment-cancelled?attempt={attempt}")
    assert response.status_code == 303
    assert facts(app, sku) == (3, ["pending"])  # the webhook or the end of the hold decides
