"""Hostile input over every checkout and order endpoint (CONTRACT.md "Checkout and orders",
issue 11 "Bad input"): each gets its 4xx with a clear message and changes nothing. Nothing is
checked field by field: the whole state is compared before and after, namely the orders, every
product's stock and the stock ledger's net movement, every coupon's `used`, payment attempts still open, the
cart (version included) and its history, and the saved checkout details (a refused PUT keeps the
previous coupon and fields)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from storefront.catalog.models import Product
from storefront.checkout.models import Coupon, CouponUse, PaymentAttempt
from storefront.extensions import db
from storefront.orders.models import Order, StockMovement
from tests.helpers import Browser

WEBHOOK_SECRET = "whsec_hostile0123456789abcdef"
ADDRESS = {
    "name": "Ada Lovelace",
    "address_line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 1AA",
    "country": "GB",
}
DETAILS = {
    "email": "ada@example.com",
    "address": ADDRESS,
    "shipping_method": "standard",
    "coupon": "WELCOME10",
}
PAY = {"payment": {"provider": "test", "token": "tok_ok"}}
SCRIPT = '<script>alert("x")</script>'
HUGE = "x" * 10_000
CONTROL = ["\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\ud800"]
WRONG_TYPES = [5, 1.5, True, [], ["x"], {}, {"x": "y"}]


@pytest.fixture
def settings():
    return {
        "STOREFRONT_PAYMENT_PROVIDERS": "test,manual",
        # The refusals are under test, not the limiter against card testing.
        "STOREFRONT_CHECKOUT_RATE_LIMIT": "10000/minute",
    }


@pytest.fixture
def sku(make_product):
    return make_product(name="Blue Mug", price="13.99", stock=5)


@pytest.fixture
def ready(browser, sku):
    """A cart of 2 and a checkout ready to complete, WELCOME10 applied."""
    assert browser.add(sku, 2).status_code == 200
    response = browser.api("PUT", "/checkout", json=DETAILS)
    assert response.status_code == 200 and response.json["coupon"] == "WELCOME10"
    return browser


def state(app, browser: Browser) -> dict:
    with app.app_context():
        count = lambda model, *where: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(*where)
        )
        snapshot = {
            "orders": db.session.execute(select(Order.number, Order.status)).all(),
            "stock": dict(db.session.execute(select(Product.sku, Product.stock)).all()),
            # Net, not rows: a declined payment's stock is taken and given back, both recorded.
            "ledger": db.session.scalar(select(func.coalesce(func.sum(StockMovement.delta), 0))),
            "coupons": dict(db.session.execute(select(Coupon.code, Coupon.used)).all()),
            "coupon_uses": count(CouponUse),
            "open_attempts": count(PaymentAttempt, PaymentAttempt.status == "open"),
        }
    checkout = browser.api("GET", "/checkout")
    assert checkout.status_code == 200
    history = browser.api("GET", "/cart/history")
    return {
        **snapshot,
        "cart": browser.cart(),
        "checkout": checkout.json,
        "history": history.json["revisions"],
    }


def refused(response, status: int | tuple[int, ...], code: str | None = None) -> dict:
    """A clear refusal in the contract's shape; returns the error object."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.get_data(as_text=True)[:500]
    error = response.json["error"]
    if code is not None:
        assert error["code"] == code, error
    assert response.headers["X-Error-Code"] == error["code"]
    assert len(error["message"]) >= 10 and SCRIPT not in error["message"], error
    return error


# -- PUT /api/v1/checkout ------------------------------------------------------------------

PUT_CASES = [
    # email
    *[({"email": v}, "invalid_email") for v in WRONG_TYPES],
    ({"email": "not-an-email"}, "invalid_email"),
    ({"email": "a@b"}, "invalid_email"),
    ({"email": HUGE + "@example.com"}, "invalid_email"),
    ({"email": SCRIPT}, "invalid_email"),
    *[({"email": f"ada{c}@example.com"}, "invalid_email") for c in CONTROL],
    # the address as a whole, and each of its fields
    *[({"address": v}, "invalid_address") for v in [None, "12 Analytical Row", 5, [], [ADDRESS]]],
    *[
        ({"address": {field: v}}, "invalid_address")
        for field in ("name", "address_line1", "city", "postal_code", "region", "country")
        for v in (5, True, [], ["x"], {}, {"nested": {"deep": 1}})
    ],
    ({"address": {"name": HUGE}}, "invalid_address"),
    ({"address": {"address_line1": "x" * 201}}, "invalid_address"),
    *[({"address": {"city": f"Lon{c}don"}}, "invalid_address") for c in CONTROL],
    ({"address": {"street": "12 Analytical Row"}}, "invalid_address"),
    ({"address": {**ADDRESS, "__proto__": "x"}}, "invalid_address"),
    *[
        ({"address": {"country": v}}, "invalid_address")
        for v in ("ZZ", "usa", "USA", "U", "XX", "EU", "001", "G B", "gb\x00", HUGE, SCRIPT)
    ],
    # shipping method
    *[({"shipping_method": v}, "unknown_shipping_method") for v in WRONG_TYPES],
    *[
        ({"shipping_method": v}, "unknown_shipping_method")
        for v in ("teleport", "STANDARD", " standard", "standard\x00", HUGE, SCRIPT)
    ],
    # coupon
    *[({"coupon": v}, "invalid_coupon") for v in WRONG_TYPES],
    *[({"coupon": f"WELCOME10{c}"}, "invalid_coupon") for c in CONTROL],
    *[({"coupon": f"{c}WELCOME10"}, "invalid_coupon") for c in CONTROL],
    ({"coupon": "WELCOME10" * 1200}, "invalid_coupon"),  # about 10 KB
    ({"coupon": HUGE}, "invalid_coupon"),
    ({"coupon": "NO-SUCH-COUPON"}, "invalid_coupon"),
    ({"coupon": "' OR 1=1 --"}, "invalid_coupon"),
    ({"coupon": SCRIPT}, "invalid_coupon"),
    # phone
    *[({"phone": v}, "invalid_address") for v in (5, [], {}, "call me", HUGE, "+44\x0020")],
    # a valid field next to a refused one: nothing is kept, not even the valid one
    ({"email": "eve@example.com", "coupon": "NO-SUCH-COUPON"}, "invalid_coupon"),
    ({"coupon": None, "address": {"country": "ZZ"}}, "invalid_address"),
    ({"shipping_method": "pickup", "email": 5}, "invalid_email"),
    # not a detail at all
    ({"payment": PAY["payment"]}, "bad_request"),
    ({"cart_version": 1}, "bad_request"),
    ({"total": "0.00"}, "bad_request"),
    ({"email": "ada@example.com", HUGE: 1}, "bad_request"),
]


@pytest.mark.parametrize(
    ("body", "code"), PUT_CASES, ids=[f"{i}-{str(b)[:40]!r}" for i, (b, _) in enumerate(PUT_CASES)]
)
def test_a_refused_put_keeps_every_detail_and_changes_nothing(app, ready, body, code):
    before = state(app, ready)
    response = ready.api("PUT", "/checkout", json=body)
    error = refused(response, 400 if code == "bad_request" else 422, code)
    if code != "bad_request":
        assert error["fields"], error  # what it concerns, for the page to mark
    assert state(app, ready) == before
    assert before["checkout"]["coupon"] == "WELCOME10"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00",
        b'{"email": "a@example.com"',
        b"[]",
        b'"email"',
        b"null",
        b"5",
        b"[]" * 40_000,
        b'{"coupon": "' + b"W" * 70_000 + b'"}',
    ],
)
def test_broken_and_oversized_put_bodies_are_400_or_413(app, ready, raw):
    before = state(app, ready)
    response = ready.api("PUT", "/checkout", data=raw, headers={"Content-Type": "application/json"})
    refused(response, (400, 413), "bad_request")
    assert state(app, ready) == before


def test_null_and_empty_clear_a_detail_and_completion_then_names_it(app, ready, sku):
    """Not refusals: null removes the coupon (the contract), and an empty country is "not
    chosen yet" (the page's select sends it so). The order is then refused for what is
    missing, and nothing is taken."""
    response = ready.api("PUT", "/checkout", json={"coupon": None, "address": {"country": ""}})
    assert response.status_code == 200
    assert response.json["coupon"] is None and response.json["address"]["country"] == ""
    before = state(app, ready)
    error = refused(ready.api("POST", "/checkout/complete", json=PAY), 422, "checkout_incomplete")
    assert error["fields"] == ["country"]
    assert state(app, ready) == before


def test_a_put_on_no_cart_is_empty_cart(app, browser):
    refused(browser.api("PUT", "/checkout", json=DETAILS), 409, "empty_cart")
    assert browser.cart()["version"] == 0


# -- POST /api/v1/checkout/complete --------------------------------------------------------


def pay(**payment):
    return {"payment": payment}


COMPLETE_CASES = [
    # the body's shape
    ({}, 400, "bad_request"),
    ({"payment": None}, 400, "bad_request"),
    ({"payment": "test"}, 400, "bad_request"),
    ({"payment": "tok_ok"}, 400, "bad_request"),
    ({"payment": ["test", "tok_ok"]}, 400, "bad_request"),
    ({"payment": 5}, 400, "bad_request"),
    ({**PAY, "total": "0.01"}, 400, "bad_request"),
    ({**PAY, "email": "eve@example.com"}, 400, "bad_request"),
    (pay(provider="test", token="tok_ok", amount=1), 400, "bad_request"),
    # the provider: unknown, not configured here, of the wrong type
    (pay(), 422, "unknown_payment_provider"),
    *[(pay(provider=v, token="tok_ok"), 422, "unknown_payment_provider") for v in WRONG_TYPES],
    *[
        (pay(provider=v, token="tok_ok"), 422, "unknown_payment_provider")
        for v in ("stripe", "paypal", "TEST", " test", "test\x00", "", HUGE, SCRIPT, None)
    ],
    # the token: missing, of the wrong type, huge
    (pay(provider="test"), 422, "checkout_incomplete"),
    (pay(provider="test", token=None), 422, "checkout_incomplete"),
    (pay(provider="test", token=""), 422, "checkout_incomplete"),
    *[(pay(provider="test", token=v), 422, "checkout_incomplete") for v in WRONG_TYPES],
    (pay(provider="test", token="tok_ok" + "x" * 200), 422, "checkout_incomplete"),
    (pay(provider="test", token="tok_ok" + "x" * 70_000), 413, "bad_request"),
    # a card the provider refuses, or a provider that cannot be reached
    (pay(provider="test", token="tok_declined"), 402, "payment_declined"),
    (pay(provider="test", token="4242424242424242"), 402, "payment_declined"),
    (pay(provider="test", token=SCRIPT), 402, "payment_declined"),
    (pay(provider="test", token="tok_error"), 502, "payment_unavailable"),
]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    COMPLETE_CASES,
    ids=[f"{i}-{str(b)[:50]!r}" for i, (b, _, _) in enumerate(COMPLETE_CASES)],
)
def test_a_refused_completion_places_nothing_and_changes_nothing(app, ready, body, status, code):
    before = state(app, ready)
    for key in (None, f"key-{status}-{code}"):
        headers = {"Idempotency-Key": key} if key else {}
        response = ready.api("POST", "/checkout/complete", json=body, headers=headers)
        refused(response, status, code)
        assert state(app, ready) == before


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"If-Match": '"0"'}, 412, "version_conflict"),  # the empty cart of before the add
        ({"If-Match": '"999"'}, 412, "version_conflict"),
        ({"If-Match": ""}, 400, "bad_request"),
        ({"If-Match": "1"}, 400, "bad_request"),
        ({"If-Match": 'W/"1"'}, 400, "bad_request"),
        ({"If-Match": "*"}, 400, "bad_request"),
        ({"If-Match": '"1", "2"'}, 400, "bad_request"),
        ({"If-Match": '"' + "9" * 40 + '"'}, 400, "bad_request"),
        ({"Idempotency-Key": "k" * 201}, 400, "bad_request"),
        ({"Idempotency-Key": "k" * 5000}, 400, "bad_request"),
    ],
)
def test_bad_preconditions_and_keys_place_nothing(app, ready, headers, status, code):
    before = state(app, ready)
    response = ready.api("POST", "/checkout/complete", json=PAY, headers=headers)
    refused(response, status, code)
    assert state(app, ready) == before


def test_if_match_from_an_older_cart_is_412_and_changes_nothing(app, ready, sku):
    seen = ready.api("GET", "/checkout").json["cart_version"]
    assert ready.add(sku, 1).status_code == 200  # another device added one meanwhile
    before = state(app, ready)
    response = ready.api("POST", "/checkout/complete", json=PAY, headers={"If-Match": f'"{seen}"'})
    error = refused(response, 412, "version_conflict")
    assert str(seen + 1) in error["message"]
    assert state(app, ready) == before


def test_an_idempotency_key_reused_for_another_body_is_422_and_changes_nothing(app, ready, sku):
    first = ready.api("POST", "/checkout/complete", json=PAY, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert ready.add(sku, 1).status_code == 200
    assert ready.api("PUT", "/checkout", json={"coupon": "WELCOME10"}).status_code == 200
    before = state(app, ready)
    for other in (
        {"payment": {"provider": "manual"}},
        {"payment": {"provider": "test", "token": "tok_ok_other_card"}},
    ):
        response = ready.api(
            "POST", "/checkout/complete", json=other, headers={"Idempotency-Key": "k1"}
        )
        refused(response, 422, "idempotency_key_reused")
        assert state(app, ready) == before
    # The same body under the same key is the first order again, and still changes nothing.
    again = ready.api("POST", "/checkout/complete", json=PAY, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201 and again.json == first.json
    assert state(app, ready) == before


def test_an_empty_cart_is_409_whatever_else_is_sent(app, browser, sku):
    assert browser.add(sku, 1).status_code == 200
    assert browser.api("PUT", "/checkout", json=DETAILS).status_code == 200
    assert browser.api("DELETE", "/cart").status_code == 200
    before = state(app, browser)
    refused(browser.api("POST", "/checkout/complete", json=PAY), 409, "empty_cart")
    assert state(app, browser) == before


# -- CSRF and forged cookies on the API and the pages -------------------------------------


API_MUTATIONS = [
    ("PUT", "/api/v1/checkout", {"email": "eve@example.com", "coupon": None}),
    ("POST", "/api/v1/checkout/complete", PAY),
]


@pytest.mark.parametrize(("method", "path", "body"), API_MUTATIONS)
@pytest.mark.parametrize("token", [None, "", "not-the-token", "x" * 5000])
def test_an_api_mutation_without_its_csrf_token_is_403(app, ready, method, path, body, token):
    before = state(app, ready)
    headers = {} if token is None else {"X-CSRF-Token": token}
    response = ready.client.open(path, method=method, json=body, headers=headers)
    refused(response, 403, "csrf_failed")
    assert state(app, ready) == before


PAGE_POSTS = [
    ("/checkout/details", {**ADDRESS, "email": "eve@example.com", "coupon": ""}),
    (
        "/checkout",
        {
            **ADDRESS,
            "email": "ada@example.com",
            "shipping_method": "standard",
            "coupon": "WELCOME10",
            "payment_provider": "test",
            "payment_token": "tok_ok",
        },
    ),
    ("/orders/1001/buy-again", {}),
]


@pytest.mark.parametrize(("path", "form"), PAGE_POSTS)
@pytest.mark.parametrize("token", [None, "", "not-the-token"])
@pytest.mark.parametrize("htmx", [False, True])
def test_a_page_post_without_its_csrf_token_changes_nothing(app, ready, path, form, token, htmx):
    # An order to buy again, so the buy-again refusal is the token's, not a 404.
    placed = ready.api("POST", "/checkout/complete", json=PAY)
    assert placed.status_code == 201 and placed.json["order"]["number"] == "1001"
    before = state(app, ready)
    data = dict(form) if token is None else {**form, "csrf_token": token}
    headers = {"HX-Request": "true"} if htmx else {}
    response = ready.client.post(path, data=data, headers=headers)
    assert response.status_code in (400, 403), response.status_code
    assert response.headers["X-Error-Code"] == "csrf_failed"
    assert state(app, ready) == before


FORGED = ["", "garbage", "eyJ0ZXN0IjoxfQ.AAAA.BBBB", "x" * 4000]


@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_session_cookie_gets_403_and_never_the_shoppers_checkout(app, ready, forged):
    placed = ready.api("POST", "/checkout/complete", json=PAY)
    assert placed.status_code == 201
    number = placed.json["order"]["number"]
    assert ready.add(next(iter(placed.json["order"]["lines"]))["sku"], 1).status_code == 200
    before = state(app, ready)
    stranger = Browser(app.test_client())
    stranger.client.set_cookie("storefront", forged)
    # The shopper's own token does not help a request that does not carry their session.
    for method, path, body in API_MUTATIONS:
        response = stranger.client.open(
            path, method=method, json=body, headers={"X-CSRF-Token": ready.csrf}
        )
        refused(response, 403, "csrf_failed")
    for path, form in PAGE_POSTS:
        response = stranger.client.post(
            path.replace("1001", number), data={**form, "csrf_token": ready.csrf}
        )
        assert response.status_code in (400, 403)
    # Reading: a fresh guest, never the shopper's details or orders.
    stranger.client.set_cookie("storefront", forged)
    checkout = stranger.client.get("/api/v1/checkout")
    assert checkout.status_code == 200 and checkout.json["email"] == ""
    assert checkout.json["cart_version"] == 0
    stranger.client.set_cookie("storefront", forged)
    assert stranger.client.get("/api/v1/orders").json == {"orders": []}
    stranger.client.set_cookie("storefront", forged)
    refused(stranger.client.get(f"/api/v1/orders/{number}"), 404, "not_found")
    assert state(app, ready) == before


# -- another shopper's orders --------------------------------------------------------------

NUMBERS = ["999999", "0", "-1", "1e3", "0x3e9", "1001abc", "²", "١٠٠١", "9" * 40, "%00", " 1001"]


def test_another_shoppers_order_is_404_exactly_like_no_order(app, ready, other_browser):
    number = ready.api("POST", "/checkout/complete", json=PAY).json["order"]["number"]
    ready.register("ada@example.com")  # the order stays this browser's; the other is a stranger
    other_browser.register("eve@example.com")
    before = state(app, ready)

    def answers(browser, path):
        response = browser.client.get(path)
        return (
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("X-Error-Code"),
        )

    for prefix in ("/api/v1/orders/", "/orders/"):
        theirs = answers(other_browser, prefix + number)
        nothing = answers(other_browser, prefix + "999999")
        assert theirs[0] == 404 and theirs[2] == "not_found"
        if prefix.startswith("/api"):
            assert theirs == nothing  # byte for byte: no leak of which numbers are taken
        else:
            assert theirs[0] == nothing[0] and number not in theirs[1]
        for odd in NUMBERS:
            status, body, code = answers(other_browser, prefix + quote(odd, safe=""))
            assert status == 404 and code == "not_found", (prefix, odd, status)
            if prefix.startswith("/api"):
                assert body == nothing[1], (odd, body)
    assert other_browser.api("GET", "/orders").json == {"orders": []}
    assert f'order-number">{number}<' not in other_browser.page("/orders").get_data(as_text=True)
    # Buying someone else's order again: 404, and neither cart moves.
    other_before = other_browser.cart()
    response = other_browser.form(f"/orders/{number}/buy-again", {})
    assert response.status_code == 404 and response.headers["X-Error-Code"] == "not_found"
    assert other_browser.cart() == other_before
    assert state(app, ready) == before


@pytest.mark.parametrize("attempt", ["", "x" * 5000, "' OR 1=1 --", "../../etc", "\x00"])
def test_a_hostile_payment_cancelled_link_changes_nothing(app, ready, attempt):
    response = ready.api("POST", "/checkout/complete", json={"payment": {"provider": "manual"}})
    assert response.status_code == 201 and response.json["order"]["status"] == "pending"
    before = state(app, ready)
    page = ready.client.get("/checkout/payment-cancelled", query_string={"attempt": attempt})
    assert page.status_code in (303, 400, 404)
    assert state(app, ready) == before


def test_another_shoppers_payment_cancelled_link_does_not_cancel_their_order(
    app, ready, other_browser, sku
):
    response = ready.api("POST", "/checkout/complete", json={"payment": {"provider": "manual"}})
    assert response.status_code == 201
    with app.app_context():
        attempt = db.session.scalar(select(Order.attempt_id))
    other_browser.add(sku, 1)
    before, other_before = state(app, ready), other_browser.cart()
    page = other_browser.client.get(
        "/checkout/payment-cancelled", query_string={"attempt": attempt}
    )
    assert page.status_code == 303
    assert state(app, ready) == before and other_browser.cart() == other_before


# -- the payment webhook -------------------------------------------------------------------


def stripe_signature(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class TestWebhook:
    @pytest.fixture
    def settings(self):
        return {
            "STOREFRONT_PAYMENT_PROVIDERS": "test,manual,stripe",
            "STOREFRONT_STRIPE_SECRET_KEY": "sk_test_hostile",
            "STOREFRONT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STOREFRONT_CHECKOUT_RATE_LIMIT": "10000/minute",
        }

    @pytest.fixture
    def pending(self, app, ready):
        response = ready.api("POST", "/checkout/complete", json={"payment": {"provider": "manual"}})
        assert response.status_code == 201
        with app.app_context():
            return db.session.scalar(select(Order.attempt_id))

    def paid_event(self, attempt: str) -> bytes:
        session = {
            "id": "cs_test_x",
            "object": "checkout.session",
            "client_reference_id": attempt,
            "payment_status": "paid",
            "status": "complete",
            "metadata": {"attempt_id": attempt},
        }
        return json.dumps(
            {
                "id": "evt_x",
                "object": "event",
                "type": "checkout.session.completed",
                "data": {"object": session},
            }
        ).encode()

    @pytest.mark.parametrize(
        "signature",
        [
            None,
            "",
            "garbage",
            "t=1,v1=00",
            "t=abc,v1=" + "0" * 64,
            "wrong-secret",
            "stale",
            "x" * 5000,
        ],
    )
    def test_a_badly_signed_webhook_is_400_and_changes_nothing(
        self, app, ready, pending, signature
    ):
        payload = self.paid_event(pending)
        if signature == "wrong-secret":
            signature = stripe_signature(payload, "whsec_not_ours")
        elif signature == "stale":
            t = int(time.time()) - 3600
            mac = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256)
            signature = f"t={t},v1={mac.hexdigest()}"
        before = state(app, ready)
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        response = app.test_client().post("/payments/stripe/webhook", data=payload, headers=headers)
        assert response.status_code == 400, response.status_code
        assert state(app, ready) == before and before["orders"][0][1] == "pending"

    @pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"[]", b"{" * 5000, b"x" * 70_000])
    def test_a_broken_webhook_body_is_400_or_413(self, app, ready, pending, body):
        before = state(app, ready)
        response = app.test_client().post(
            "/payments/stripe/webhook",
            data=body,
            headers={"Stripe-Signature": stripe_signature(body)},
        )
        assert response.status_code in (400, 413), response.status_code
        assert state(app, ready) == before

    @pytest.mark.parametrize(
        ("provider", "status"),
        [
            ("paypal", 404),
            ("STRIPE", 404),
            ("x" * 300, 404),
            ("%00", 404),
            ("test", 400),
            ("manual", 400),
        ],
    )
    def test_a_webhook_for_another_provider_is_refused(self, app, ready, pending, provider, status):
        payload = self.paid_event(pending)
        before = state(app, ready)
        response = app.test_client().post(
            f"/payments/{provider}/webhook",
            data=payload,
            headers={"Stripe-Signature": stripe_signature(payload)},
        )
        assert response.status_code == status
        assert state(app, ready) == before


def test_a_webhook_for_a_provider_not_configured_is_404(app, ready):
    payload = b'{"id": "evt_x", "type": "checkout.session.completed"}'
    before = state(app, ready)
    response = app.test_client().post(
        "/payments/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": stripe_signature(payload)},
    )
    assert response.status_code == 404
    assert state(app, ready) == before


@pytest.mark.parametrize(("token", "status"), [("tok_declined", 402), ("tok_error", 502)])
def test_a_refused_completion_can_be_retried_under_the_same_key(app, ready, token, status):
    """The contract: only successful results are remembered, so a key whose request was
    refused (declined, or the provider unreachable) places the order when retried."""
    first = ready.api(
        "POST",
        "/checkout/complete",
        json={"payment": {"provider": "test", "token": token}},
        headers={"Idempotency-Key": "retry-me"},
    )
    assert first.status_code == status
    for body, expected in (({"payment": {"provider": "test", "token": token}}, status), (PAY, 201)):
        response = ready.api(
            "POST", "/checkout/complete", json=body, headers={"Idempotency-Key": "retry-me"}
        )
        assert response.status_code == expected, response.json
    again = ready.api(
        "POST", "/checkout/complete", json=PAY, headers={"Idempotency-Key": "retry-me"}
    )
    assert again.status_code == 201 and again.json == response.json
    assert len(state(app, ready)["orders"]) == 1


PAGE_FORM = {
    **ADDRESS,
    "email": "ada@example.com",
    "shipping_method": "standard",
    "coupon": "WELCOME10",
    "payment_provider": "test",
    "payment_token": "tok_ok",
}
PAGE_CASES = [
    {"country": "ZZ"},
    {"country": "usa"},
    {"email": "not-an-email"},
    {"email": HUGE},
    {"city": "x" * 201},
    {"name": "Ada\x00"},
    {"shipping_method": "teleport"},
    {"coupon": "WELCOME10\x07"},
    {"coupon": HUGE},
    {"payment_provider": "stripe"},
    {"payment_provider": ""},
    {"payment_provider": SCRIPT},
    {"payment_token": "tok_ok" + "x" * 300},
    {"payment_token": "tok_declined"},
    {"payment_token": "tok_error"},
    {"cart_version": "0"},
    {"idempotency_key": "k" * 500},
]


@pytest.mark.parametrize("changes", PAGE_CASES, ids=[str(c)[:40] for c in PAGE_CASES])
@pytest.mark.parametrize("htmx", [False, True])
def test_a_hostile_checkout_form_is_a_4xx_page_and_changes_nothing(app, ready, changes, htmx):
    """The page's form carries every detail; one bad value is refused next to its field and
    the others, unchanged, are kept as they were."""
    before = state(app, ready)
    for path in ("/checkout/details", "/checkout"):
        if path == "/checkout/details" and any(
            k.startswith(("payment", "cart", "idem")) for k in changes
        ):
            continue  # the details form has no payment
        response = ready.form(path, {**PAGE_FORM, **changes}, htmx=htmx)
        assert 400 <= response.status_code < 600 and response.status_code != 500, (
            path,
            response.status_code,
        )
        assert response.status_code < 500 or changes.get("payment_token") == "tok_error"
        assert SCRIPT not in response.get_data(as_text=True)
        assert state(app, ready) == before


def test_an_htmx_details_change_answers_the_form_alone(ready):
    response = ready.form(
        "/checkout/details", {**PAGE_FORM, "shipping_method": "pickup"}, htmx=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="checkout-form"' in html
    assert "<html" not in html and 'data-testid="checkout-total"' in html
