"""The back office's orders: the list and its search, an order's page with its timeline, and
the four actions (mark paid, fulfil, cancel, refund) with their refusals, their audit entries,
the stock and money they move, the race between two staff, and the push to the shopper's page."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, update

from storefront import realtime
from storefront.accounts.models import User
from storefront.admin.models import StaffAction
from storefront.cart.types import Owner
from storefront.catalog.models import Product
from storefront.checkout.models import Coupon
from storefront.checkout.providers.base import PaymentOutcome, PaymentStatus, ProviderUnavailable
from storefront.errors import BadRequest, InvalidRefundAmount, InvalidTransition
from storefront.extensions import db
from storefront.orders import handling, listing, transitions
from storefront.orders.models import Order, OrderEvent
from tests.conftest import STAFF_EMAIL
from tests.helpers import Browser
from tests.test_checkout import ADDRESS


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


def place(browser, sku, *, quantity=1, provider="test", email="ada@example.com", coupon=None):
    assert browser.add(sku, quantity).status_code == 200
    body = {"email": email, "address": ADDRESS, "shipping_method": "standard"}
    if coupon:
        body["coupon"] = coupon
    assert browser.api("PUT", "/checkout", json=body).status_code == 200
    token = "tok_ok" if provider == "test" else None
    response = browser.api(
        "POST", "/checkout/complete", json={"payment": {"provider": provider, "token": token}}
    )
    assert response.status_code == 201, response.json
    return response.json["order"]


def act(staff, number, action, body=None, **kwargs):
    return staff.api("POST", f"/admin/orders/{number}/{action}", json=body, **kwargs)


def order_row(app, number) -> Order:
    with app.app_context():
        order = db.session.scalar(select(Order).where(Order.number == int(number)))
        db.session.expunge(order)
        db.session.remove()
        return order


def stock_of(app, sku) -> int:
    with app.app_context():
        return db.session.scalar(select(Product.stock).where(Product.sku == sku))


def audit_entries(app, action=None) -> list[StaffAction]:
    with app.app_context():
        query = select(StaffAction).order_by(StaffAction.id)
        if action:
            query = query.where(StaffAction.action == action)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


@pytest.fixture
def pushes(monkeypatch):
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(
        realtime, "publish", lambda channel, html, **_: sent.append((channel, html))
    )
    return sent


@pytest.fixture
def refunds(app):
    """Every refund the test provider is asked for: (reference, amount, key)."""
    asked = []
    provider = app.extensions["storefront.payment_providers"]["test"]

    def refund(reference, amount, currency, idempotency_key):
        asked.append((reference, amount, idempotency_key))
        return PaymentOutcome(PaymentStatus.REFUNDED, reference=reference)

    provider.refund = refund
    return asked


# -- the rules, without a request ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("pending", ["mark-paid", "cancel"]),
        ("paid", ["fulfil", "cancel", "refund"]),
        ("fulfilled", ["refund"]),
        ("cancelled", []),
        ("refunded", []),
    ],
)
def test_each_status_allows_only_its_actions(status, actions):
    assert transitions.available(status, 0, 100) == actions
    for action in transitions.ACTIONS:
        if action in actions:
            transitions.check(action, status)
        else:
            with pytest.raises(InvalidTransition) as refused:
                transitions.check(action, status, 1001)
            assert refused.value.message.startswith("Order 1001 cannot be")


def test_refusals_say_why_in_words():
    with pytest.raises(InvalidTransition, match="not paid yet: mark it paid first"):
        transitions.check("fulfil", "pending")
    with pytest.raises(InvalidTransition, match="fulfilled: refund it instead"):
        transitions.check("cancel", "fulfilled")
    with pytest.raises(InvalidTransition, match="never paid: cancel it instead"):
        transitions.check("refund", "pending")


def test_refund_amounts_are_checked_against_what_is_left():
    assert transitions.refund_amount(None, 1650, 0, "USD") == 1650
    assert transitions.refund_amount(None, 1650, 650, "USD") == 1000
    assert transitions.refund_amount("12.5", 1650, 0, "USD") == 1250
    assert transitions.refund_amount("10.00", 1650, 650, "USD") == 1000
    for bad in ("0", "0.00", "-1", "1.234", "abc", "1e3", "", 5, 5.5, True, ["1"], "9" * 40):
        with pytest.raises(InvalidRefundAmount):
            transitions.refund_amount(bad, 1650, 0, "USD")
    with pytest.raises(InvalidRefundAmount, match=r"At most 10\.00 USD is left"):
        transitions.refund_amount("10.01", 1650, 650, "USD")
    with pytest.raises(InvalidTransition):
        transitions.refund_amount(None, 1650, 1650, "USD")
    assert transitions.status_after_refund("fulfilled", 1650, 1000) == "fulfilled"
    assert transitions.status_after_refund("paid", 1650, 1650) == "refunded"


def test_tracking_notes_are_tidied_and_bounded():
    assert transitions.tracking_note("  DHL \n 123  ") == "DHL 123"
    assert transitions.tracking_note("   ") is None
    assert transitions.tracking_note(None) is None
    for bad in (5, ["x"], "x" * 501, "a\x00b"):
        with pytest.raises(BadRequest):
            transitions.tracking_note(bad)


# -- the list ------------------------------------------------------------------------------


def test_the_list_filters_by_status_and_finds_by_number_or_exact_email(
    app, staff, make_product, other_browser
):
    sku = make_product(price="10.00", stock=20)
    shopper = Browser(app.test_client())
    first = place(shopper, sku, provider="manual", email="ada@example.com")
    second = place(other_browser, sku, email="grace@example.com")

    page = staff.page("/admin/orders").get_data(as_text=True)
    assert page.index(f'data-number="{second["number"]}"') < page.index(
        f'data-number="{first["number"]}"'
    )  # newest first
    assert "$16.50" in page  # 10.00 + 5.00 shipping + 10 % tax, with the price filter

    pending = staff.page("/admin/orders?status=pending").get_data(as_text=True)
    assert f'data-number="{first["number"]}"' in pending
    assert f'data-number="{second["number"]}"' not in pending

    by_number = staff.page(f"/admin/orders?q={second['number']}").get_data(as_text=True)
    assert by_number.count('data-testid="admin-order"') == 1
    by_email = staff.page("/admin/orders?q=%20ada@EXAMPLE.com%20").get_data(as_text=True)
    assert by_email.count('data-testid="admin-order"') == 1
    assert f'data-number="{first["number"]}"' in by_email
    for nothing in ("nobody@example.com", "ada", "ada@example", "9" * 30, "<script>"):
        found = staff.page("/admin/orders", query_string={"q": nothing})
        assert found.status_code == 200
        assert 'data-testid="admin-order"' not in found.get_data(as_text=True)
    odd = staff.page("/admin/orders?status=lost&page=-3")
    assert odd.status_code == 200 and odd.get_data(as_text=True).count('data-number="') == 2


def test_orders_from_before_the_email_hash_are_found_once_it_is_filled(app, staff, make_product):
    sku = make_product(stock=5)
    order = place(Browser(app.test_client()), sku, email="old@example.com")
    with app.app_context():
        db.session.execute(update(Order).values(email_hash=None))
        db.session.commit()
    page = staff.page("/admin/orders?q=old@example.com").get_data(as_text=True)
    assert f'data-number="{order["number"]}"' in page
    assert order_row(app, order["number"]).email_hash is not None


def test_the_list_pages(app, staff, make_product, monkeypatch):
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    sku = make_product(stock=20)
    numbers = [place(Browser(app.test_client()), sku)["number"] for _ in range(3)]
    first = staff.page("/admin/orders").get_data(as_text=True)
    assert "page 1 of 2" in first and 'rel="next"' in first
    second = staff.page("/admin/orders?page=2").get_data(as_text=True)
    assert f'data-number="{numbers[0]}"' in second and f'data-number="{numbers[2]}"' not in second


def test_the_json_list_uses_the_order_shape_and_refuses_unknown_statuses(app, staff, make_product):
    sku = make_product(stock=5)
    order = place(Browser(app.test_client()), sku, provider="manual")
    response = staff.api("GET", "/admin/orders?status=pending")
    assert response.status_code == 200
    assert response.json == {"orders": [order]}
    assert staff.api("GET", "/admin/orders?status=paid").json == {"orders": []}
    for bad in ("status=lost", "page=0", "page=x", "page=99999999"):
        refused = staff.api("GET", f"/admin/orders?{bad}")
        assert refused.status_code == 400, bad
        assert refused.json["error"]["code"] == "bad_request"


# -- the order's page ----------------------------------------------------------------------


def test_the_order_page_shows_lines_totals_payment_address_and_timeline(app, staff, make_product):
    sku = make_product(name="Blue Mug", price="10.00", stock=5)
    order = place(Browser(app.test_client()), sku, quantity=2)
    page = staff.page(f"/admin/orders/{order['number']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for shown in ("Blue Mug", sku, "$20.00", "$27.50", "Ada Lovelace", "12 Analytical Row"):
        assert shown in html
    assert "ada@example.com" in html and "test_" in html  # email and payment reference
    assert 'data-kind="placed"' in html and 'data-kind="paid"' in html
    assert 'data-testid="order-action-fulfil"' in html
    assert 'data-testid="order-action-mark-paid"' not in html
    assert staff.page("/admin/orders/999999").status_code == 404
    assert staff.page("/admin/orders/abc").status_code == 404


# -- the actions ---------------------------------------------------------------------------


def test_mark_paid_then_fulfil_with_a_tracking_note(app, staff, browser, make_product, pushes):
    sku = make_product(stock=5)
    order = place(browser, sku, provider="manual")
    number = order["number"]

    paid = act(staff, number, "mark-paid")
    assert paid.status_code == 200, paid.json
    assert paid.json["status"] == "paid" and paid.json["payment"]["status"] == "captured"
    assert "held_until" not in paid.json

    done = act(staff, number, "fulfil", {"tracking": "DHL 00340434"})
    assert done.status_code == 200, done.json
    assert done.json["status"] == "fulfilled" and done.json["tracking"] == "DHL 00340434"

    # The shopper sees it on the page and in the JSON.
    mine = browser.api("GET", f"/orders/{number}").json
    assert mine["status"] == "fulfilled" and mine["tracking"] == "DHL 00340434"
    html = browser.page(f"/orders/{number}").get_data(as_text=True)
    assert 'data-status="fulfilled">Fulfilled<' in html and "DHL 00340434" in html

    entries = audit_entries(app)
    assert [(e.action, e.subject, e.staff_email) for e in entries] == [
        ("order.mark-paid", str(number), STAFF_EMAIL),
        ("order.fulfil", str(number), STAFF_EMAIL),
    ]
    assert json.loads(entries[1].before)["status"] == "paid"
    after = json.loads(entries[1].after)
    assert (after["status"], after["tracking"]) == ("fulfilled", "DHL 00340434")

    timeline = staff.page(f"/admin/orders/{number}").get_data(as_text=True)
    assert timeline.count(f"by {STAFF_EMAIL}") == 2 and "DHL 00340434" in timeline


def test_the_shoppers_open_page_is_told_on_its_own_channel(
    app, staff, browser, make_product, pushes
):
    sku = make_product(stock=5)
    number = place(browser, sku)["number"]
    with browser.client.session_transaction() as session:
        guest_channel = Owner.guest(session["guest"]).channel
    assert act(staff, number, "fulfil", {"tracking": "Parcel 7"}).status_code == 200
    [(channel, html)] = [p for p in pushes if f"order-status-{number}" in p[1]]
    assert channel == guest_channel
    assert 'hx-swap-oob="true"' in html and 'aria-live="polite"' in html
    assert ">Fulfilled<" in html and "Parcel 7" in html
    page = browser.page(f"/orders/{number}").get_data(as_text=True)
    assert f'id="order-status-{number}"' in page  # the region the push swaps

    account = Browser(app.test_client())
    account.register("member@example.com")
    mine = place(account, sku)["number"]
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "member@example.com"))
    pushes.clear()
    act(staff, mine, "cancel")
    assert f"user:{user_id}" in [channel for channel, html in pushes if "Cancelled" in html]


def test_cancelling_a_pending_order_returns_its_stock_and_coupon(app, staff, browser, make_product):
    sku = make_product(stock=5)
    number = place(browser, sku, quantity=2, provider="manual", coupon="WELCOME10")["number"]
    with app.app_context():
        used = db.session.scalar(select(Coupon.used).where(Coupon.code == "WELCOME10"))
    assert stock_of(app, sku) == 3
    response = act(staff, number, "cancel")
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert response.json["payment"]["status"] == "cancelled"
    assert stock_of(app, sku) == 5
    with app.app_context():
        assert db.session.scalar(select(Coupon.used).where(Coupon.code == "WELCOME10")) == used - 1
    again = act(staff, number, "cancel")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"
    assert stock_of(app, sku) == 5


def test_cancelling_a_paid_order_refunds_it_through_its_provider(
    app, staff, browser, make_product, refunds
):
    sku = make_product(price="10.00", stock=5)
    order = place(browser, sku)
    response = act(staff, order["number"], "cancel")
    assert response.status_code == 200
    assert response.json["status"] == "cancelled" and response.json["refunded"] == "16.50"
    assert response.json["payment"]["status"] == "refunded"
    assert [(amount, key) for _, amount, key in refunds] == [
        (1650, f"refund-{order['number']}-0-1650")
    ]
    assert stock_of(app, sku) == 5


def test_a_partial_refund_keeps_the_status_and_the_rest_makes_it_refunded(
    app, staff, browser, make_product, refunds
):
    sku = make_product(price="10.00", stock=5)
    number = place(browser, sku)["number"]
    act(staff, number, "fulfil")

    part = act(staff, number, "refund", {"amount": "6.50"})
    assert part.status_code == 200, part.json
    assert part.json["status"] == "fulfilled" and part.json["refunded"] == "6.50"
    assert stock_of(app, sku) == 4  # not restocked unless staff ask

    too_much = act(staff, number, "refund", {"amount": "10.01"})
    assert too_much.status_code == 422
    assert too_much.json["error"]["code"] == "invalid_refund_amount"
    assert "At most 10.00 USD" in too_much.json["error"]["message"]

    rest = act(staff, number, "refund", {"restock": True})
    assert rest.status_code == 200, rest.json
    assert rest.json["status"] == "refunded" and rest.json["refunded"] == "16.50"
    assert rest.json["payment"]["status"] == "refunded"
    assert stock_of(app, sku) == 5
    assert [amount for _, amount, _ in refunds] == [650, 1000]
    assert refunds[0][2] != refunds[1][2]  # two refunds, two idempotency keys

    after = [json.loads(e.after)["refunded"] for e in audit_entries(app, "order.refund")]
    assert after == ["6.50", "16.50"]
    page = staff.page(f"/admin/orders/{number}").get_data(as_text=True)
    assert page.count('data-kind="refunded"') == 2 and "items put back in stock" in page
    again = act(staff, number, "refund")
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"


def test_stock_that_comes_back_is_announced_to_open_pages(
    app, staff, browser, make_product, refunds, monkeypatch
):
    from storefront.catalog import changes

    told = []
    monkeypatch.setattr(changes, "announce", lambda before, after: told.append((before, after)))
    sku = make_product(stock=3)
    number = place(browser, sku, quantity=3)["number"]
    act(staff, number, "refund", {"amount": "1.00"})
    assert told == []  # no stock moved
    act(staff, number, "cancel")
    [(before, after)] = told
    assert (before.sku, before.stock, after.stock) == (sku, 0, 3)


def test_stock_goes_back_only_once(app, staff, browser, make_product, refunds):
    sku = make_product(price="10.00", stock=5)
    number = place(browser, sku)["number"]
    assert act(staff, number, "refund", {"amount": "1.00", "restock": True}).status_code == 200
    twice = act(staff, number, "refund", {"amount": "1.00", "restock": True})
    assert twice.status_code == 409 and "already back in stock" in twice.json["error"]["message"]
    assert act(staff, number, "cancel").status_code == 200  # the rest refunded, no restock
    assert stock_of(app, sku) == 5
    assert [amount for _, amount, _ in refunds] == [100, 1550]


def test_a_provider_that_cannot_refund_changes_nothing(app, staff, browser, make_product):
    sku = make_product(stock=5)
    number = place(browser, sku)["number"]

    def unreachable(*args):
        raise ProviderUnavailable("test: down")

    app.extensions["storefront.payment_providers"]["test"].refund = unreachable
    for action, body in (("refund", {"restock": True}), ("cancel", None)):
        response = act(staff, number, action, body)
        assert response.status_code == 502
        assert response.json["error"]["code"] == "payment_unavailable"
    row = order_row(app, number)
    assert (row.status, row.refunded) == ("paid", 0)
    assert stock_of(app, sku) == 4
    assert audit_entries(app) == []


def test_a_manual_order_refund_is_recorded_as_paid_back_by_hand(app, staff, browser, make_product):
    sku = make_product(stock=5)
    number = place(browser, sku, provider="manual")["number"]
    act(staff, number, "mark-paid")
    assert act(staff, number, "refund").json["status"] == "refunded"
    assert "by hand" in staff.page(f"/admin/orders/{number}").get_data(as_text=True)


def test_actions_that_do_not_fit_are_refused_with_a_reason(app, staff, browser, make_product):
    sku = make_product(stock=5)
    number = place(browser, sku, provider="manual")["number"]
    for action in ("fulfil", "refund"):
        response = act(staff, number, action)
        assert response.status_code == 409
        error = response.json["error"]
        assert error["code"] == "invalid_transition" and str(number) in error["message"]
    page = staff.form(f"/admin/orders/{number}/fulfil", {"seen": "pending:0"})
    assert page.status_code == 409
    assert "not paid yet: mark it paid first" in page.get_data(as_text=True)
    assert order_row(app, number).status == "pending"
    assert audit_entries(app) == []


def test_the_forms_work_without_javascript(app, staff, browser, make_product, refunds):
    sku = make_product(price="10.00", stock=5)
    number = place(browser, sku)["number"]
    response = staff.form(
        f"/admin/orders/{number}/refund",
        {"seen": "paid:0", "amount": "2.50", "restock": "yes"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/orders/{number}"
    page = staff.page(f"/admin/orders/{number}").get_data(as_text=True)
    assert f"Order {number} refunded." in page and 'value="paid:250"' in page
    assert stock_of(app, sku) == 5
    shipped = staff.form(
        f"/admin/orders/{number}/fulfil", {"seen": "paid:250", "tracking": "Post 1"}
    )
    assert shipped.status_code == 303
    assert order_row(app, number).tracking == "Post 1"


def test_hostile_input_is_refused_and_changes_nothing(app, staff, browser, make_product, refunds):
    sku = make_product(stock=5)
    number = place(browser, sku)["number"]
    cases = [
        (f"/admin/orders/{number}/refund", {"amount": "-1"}, 422),
        (f"/admin/orders/{number}/refund", {"amount": 5}, 422),
        (f"/admin/orders/{number}/refund", {"amount": "1e9"}, 422),
        (f"/admin/orders/{number}/refund", {"amount": "99999999999999"}, 422),
        (f"/admin/orders/{number}/refund", {"amount": "0"}, 422),
        (f"/admin/orders/{number}/refund", {"restock": "yes"}, 400),
        (f"/admin/orders/{number}/refund", {"reason": "x"}, 400),
        (f"/admin/orders/{number}/fulfil", {"tracking": 7}, 400),
        (f"/admin/orders/{number}/fulfil", {"tracking": "x" * 501}, 400),
        (f"/admin/orders/{number}/mark-paid", {"status": "paid"}, 400),
        (f"/admin/orders/{number}/ship", {}, 404),
        ("/admin/orders/99999999/cancel", {}, 404),
        ("/admin/orders/-1/cancel", {}, 404),
        ("/admin/orders/1e3/cancel", {}, 404),
    ]
    for path, body, status in cases:
        response = staff.api("POST", path, json=body)
        assert response.status_code == status, (path, body, response.json)
    assert staff.api("POST", f"/admin/orders/{number}/cancel", data="[1]").status_code == 400
    assert staff.api("POST", f"/admin/orders/{number}/cancel", data="{").status_code == 400

    no_token = staff.client.post(f"/api/v1/admin/orders/{number}/cancel", json={})
    assert no_token.status_code == 403 and no_token.json["error"]["code"] == "csrf_failed"
    no_form_token = staff.client.post(f"/admin/orders/{number}/cancel", data={"seen": "paid:0"})
    assert no_form_token.status_code == 403
    bad_form = staff.form(f"/admin/orders/{number}/refund", {"seen": "paid:0", "amount": "x"})
    assert bad_form.status_code == 422 and "not valid" in bad_form.get_data(as_text=True)

    row = order_row(app, number)
    assert (row.status, row.refunded, row.tracking) == ("paid", 0, None)
    assert stock_of(app, sku) == 4 and refunds == [] and audit_entries(app) == []


# -- two staff at once ---------------------------------------------------------------------


def test_a_page_that_saw_an_older_state_is_told_instead_of_acting(
    app, staff, browser, make_product, refunds
):
    sku = make_product(stock=5)
    number = place(browser, sku)["number"]
    seen_by_a = "paid:0"  # staff A's page, opened before staff B acted
    assert act(staff, number, "refund", {"amount": "1.00"}).status_code == 200  # staff B
    late = staff.form(f"/admin/orders/{number}/refund", {"seen": seen_by_a, "amount": "1.00"})
    assert late.status_code == 409
    assert "changed while you were looking at it" in late.get_data(as_text=True)
    assert order_row(app, number).refunded == 100 and len(refunds) == 1


@pytest.mark.parametrize("action", ["fulfil", "cancel", "refund"])
def test_two_staff_at_once_one_wins_the_other_is_refused(
    app, staff, browser, make_product, refunds, action
):
    """Two threads, each its own app context and database session, act on one paid order;
    the test provider's refund is slowed so both are inside ``act`` together."""
    sku = make_product(stock=5)
    number = place(browser, sku)["number"]
    barrier = threading.Barrier(2)
    inside = threading.Event()
    provider = app.extensions["storefront.payment_providers"]["test"]
    plain_refund = provider.refund

    def slow_refund(*args):
        inside.set()
        threading.Event().wait(0.3)  # widen the window: the other thread is waiting to lock
        return plain_refund(*args)

    provider.refund = slow_refund
    results: list[object] = []

    def staff_member():
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == STAFF_EMAIL))
            barrier.wait()
            try:
                results.append(handling.act(user, number, handling.Request(action=action)).order)
            except InvalidTransition as e:
                results.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=staff_member) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    won = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(won) == 1 and len(refused) == 1, results
    assert str(number) in refused[0].message
    assert len(audit_entries(app, f"order.{action}")) == 1
    with app.app_context():
        events = db.session.scalars(select(OrderEvent.kind)).all()
    assert len(events) == 1
    if action != "fulfil":
        assert len(refunds) == 1 and inside.is_set()
    assert stock_of(app, sku) == (4 if action == "fulfil" or action == "refund" else 5)


# -- through Stripe ------------------------------------------------------------------------


class TestThroughStripe:
    @pytest.fixture
    def settings(self):
        from tests.test_stripe_provider import SECRET_KEY, WEBHOOK_SECRET

        return {
            "STOREFRONT_PAYMENT_PROVIDERS": "stripe,manual,test",
            "STOREFRONT_STRIPE_SECRET_KEY": SECRET_KEY,
            "STOREFRONT_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    @pytest.fixture
    def paid_by_stripe(self, app, browser, make_product):
        from tests import test_order_lifecycle as lifecycle
        from tests.test_stripe_provider import Answer, fixture

        sku = make_product(price="5.00", stock=5)
        lifecycle.ready(browser, sku)
        lifecycle.use_stripe(
            app, Answer("POST", "/v1/checkout/sessions", fixture("session_open.json"))
        )
        number = lifecycle.place(browser, "stripe").json["order"]["number"]
        paid = lifecycle.session_event("event_session_completed.json", lifecycle.attempt_id(app))
        assert lifecycle.webhook(browser, paid).json["outcome"] == "paid"
        return number, sku

    def test_a_refund_goes_through_stripe(self, app, staff, paid_by_stripe):
        from tests import test_order_lifecycle as lifecycle
        from tests.test_stripe_provider import SESSION, Answer, fixture

        number, sku = paid_by_stripe
        http = lifecycle.use_stripe(
            app,
            Answer("GET", f"/v1/checkout/sessions/{SESSION}", fixture("session_paid.json")),
            Answer("POST", "/v1/refunds", fixture("refund_succeeded.json")),
        )
        response = act(staff, number, "refund", {"amount": "3.00", "restock": True})
        assert response.status_code == 200, response.json
        assert response.json["refunded"] == "3.00" and response.json["status"] == "paid"
        http.done()
        refund = http.sent[1]
        assert refund.field("amount") == "300"
        assert refund.field("payment_intent") == "pi_3QhZ8kB7WZ01zgkW1xT4aLqV"
        assert refund.headers["Idempotency-Key"] == f"refund-{number}-0-300"
        assert stock_of(app, sku) == 5

    def test_when_stripe_refuses_nothing_changes(self, app, staff, paid_by_stripe):
        from tests import test_order_lifecycle as lifecycle
        from tests.test_stripe_provider import SESSION, Answer, fixture

        number, sku = paid_by_stripe
        lifecycle.use_stripe(
            app,
            Answer("GET", f"/v1/checkout/sessions/{SESSION}", fixture("session_paid.json")),
            Answer(
                "POST", "/v1/refunds", fixture("error_charge_already_refunded.json"), status=400
            ),
        )
        response = act(staff, number, "cancel")
        assert response.status_code == 502
        assert response.json["error"]["code"] == "payment_unavailable"
        row = order_row(app, number)
        assert (row.status, row.refunded) == ("paid", 0)
        assert stock_of(app, sku) == 3 and audit_entries(app) == []
