"""The proof: a scripted day of shopping through the real app (adds, changes, removes, a merge,
restores by the shopper, by a reminder's link and by support, checkouts, a declined card, a
manual payment marked paid, a reminder and the order that followed it) gives exactly the
expected analytics, on SQLite and PostgreSQL alike; ``analytics verify`` recomputes them from
the carts' logs and the orders at 100 %; and a transaction that fails leaves no event."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from storefront import clock, jobs
from storefront.analytics import ranges, report
from storefront.analytics.kinds import EventKind
from storefront.analytics.models import CommerceEvent
from storefront.cart import models as cart_models
from storefront.cart import services as cart_services
from storefront.cart.types import Owner
from storefront.extensions import db
from tests.helpers import Browser
from tests.mailbox import parts
from tests.test_checkout import ADDRESS

DAY = date(2026, 12, 1)
START = datetime(2026, 12, 1, 7, tzinfo=UTC)  # 08:00 in Berlin
DETAILS = {"address": ADDRESS, "shipping_method": "standard"}


@pytest.fixture
def settings(mailbox):
    return {
        "STOREFRONT_SMTP_URL": mailbox.url,
        "STOREFRONT_ABANDONED_CART_MINUTES": "60",
        "STOREFRONT_PAYMENT_PROVIDERS": "test,manual",
        "STOREFRONT_TIME_ZONE": "Europe/Berlin",
    }


def shop_today(app) -> date:
    """The shop's day now (Europe/Berlin here): from 22:00 or 23:00 UTC it is already tomorrow."""
    return ranges.today(clock.now(), app.config["TIME_ZONE"])


def at(hour: int, minute: int, second: int = 0) -> None:
    """Move the shop's clock to this time of the day (UTC)."""
    clock.freeze(START.replace(hour=hour, minute=minute, second=second))


def ok(response):
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return response.json


def account(app, email: str, reminders: bool = False) -> None:
    """Register an account (in a browser of its own, which is then left)."""
    browser = Browser(app.test_client())
    browser.ensure_csrf()
    data = {"email": email, "password": "correct horse battery"}
    if reminders:
        data["cart_reminders"] = "on"
    assert browser.form("/register", data).status_code == 302


def check_out(browser: Browser, email: str, token: str = "tok_ok", provider: str = "test"):
    ok(browser.api("PUT", "/checkout", json={"email": email, **DETAILS}))
    body = {"payment": {"provider": provider, "token": token}}
    return browser.api("POST", "/checkout/complete", json=body)


def cents(order: dict) -> int:
    return int(Decimal(order["total"]) * 100)


def line_of(browser: Browser, sku: str) -> str:
    return browser.line_id(sku)


def test_a_day_of_shopping_gives_exactly_the_expected_analytics(app, make_product, staff, mailbox):
    mug, tea, pen, jar = (
        make_product(name=name, price=price, stock=100)
        for name, price in (("Mug", "5.00"), ("Tea", "3.00"), ("Pen", "2.00"), ("Jar", "4.00"))
    )
    at(6, 50)
    account(app, "ada@example.com")
    account(app, "dan@example.com", reminders=True)
    agent = Browser(app.test_client())
    agent.register("agent@example.com")
    assert app.test_cli_runner().invoke(args=["users", "grant-support", "agent@example.com"])
    paid_totals = []

    # 07:00 Ada, as a guest: adds, raises, lowers, removes; then signs in (a merge) and pays.
    at(7, 0)
    ada = Browser(app.test_client())
    ok(ada.add(mug, 2))
    ok(ada.add(tea, 1))
    ok(ada.api("PATCH", f"/cart/lines/{line_of(ada, tea)}", json={"quantity": 3}))
    ok(ada.api("PATCH", f"/cart/lines/{line_of(ada, mug)}", json={"quantity": 1}))
    ok(ada.api("DELETE", f"/cart/lines/{line_of(ada, tea)}"))
    at(7, 1)
    ada.login("ada@example.com")
    assert [(x["sku"], x["quantity"]) for x in ada.cart()["lines"]] == [(mug, 1)]
    at(7, 2)
    paid_totals.append(cents(ok(check_out(ada, "ada@example.com"))["order"]))

    # 07:05 Bob, a guest: his card is declined, then he pays with another.
    at(7, 5)
    bob = Browser(app.test_client())
    ok(bob.add(pen, 4))
    assert check_out(bob, "bob@example.com", token="tok_declined").status_code == 402
    paid_totals.append(cents(ok(check_out(bob, "bob@example.com"))["order"]))

    # 07:10 Cleo, a guest: adds, empties, starts again, restores her first cart, pays by
    # bank transfer (pending; marked paid by staff later).
    at(7, 10)
    cleo = Browser(app.test_client())
    ok(cleo.add(mug, 1))
    at(7, 11)
    ok(cleo.api("DELETE", "/cart"))
    at(7, 12)
    ok(cleo.add(tea, 2))
    at(7, 13)
    ok(cleo.api("POST", "/cart/restore", json={"revision": 1}))
    assert [(x["sku"], x["quantity"]) for x in cleo.cart()["lines"]] == [(mug, 1)]
    pending = ok(check_out(cleo, "cleo@example.com", provider="manual"))["order"]
    assert pending["status"] == "pending"

    # 07:20 Dan (signed in, reminders allowed) and Eve (a guest) add and leave.
    at(7, 20)
    dan = Browser(app.test_client())
    dan.login("dan@example.com")
    ok(dan.add(jar, 2))
    eve = Browser(app.test_client())
    ok(eve.add(pen, 1))

    # 08:21 the reminder goes out to Dan; 08:22 staff mark Cleo's transfer paid.
    at(8, 21)
    with app.app_context():
        jobs.run_once()
    [reminder] = mailbox.messages_to("dan@example.com")
    link = re.search(r"http://127\.0\.0\.1:8000(/cart/reminder/\S+)", parts(reminder)[0]).group(1)
    at(8, 22)
    staff.page("/")
    paid = ok(staff.api("POST", f"/admin/orders/{pending['number']}/mark-paid", json={}))
    paid_totals.append(cents(paid))

    # 08:25 Dan follows the link, brings his cart back and orders: a recovery.
    at(8, 25)
    dan.login("dan@example.com")
    assert dan.form(link, {}).status_code == 302
    paid_totals.append(cents(ok(check_out(dan, "dan@example.com"))["order"]))

    # 08:30 support brings Ada's cart back as it was before her order; she leaves it there.
    at(8, 30)
    agent.login("agent@example.com")  # signed out by the idle timeout meanwhile
    html = agent.page("/support?email=ada@example.com").get_data(as_text=True)
    user_id = re.search(r'name="user_id" value="(\d+)"', html).group(1)
    revisions = re.findall(r'data-testid="history-entry" data-revision="(\d+)"', html)
    before_order = sorted(int(r) for r in revisions)[-2]
    support = agent.form("/support/restore", {"user_id": user_id, "revision": str(before_order)})
    assert support.status_code == 302
    ada.login("ada@example.com")  # she looks (no change: no event), and leaves it there
    assert [(x["sku"], x["quantity"]) for x in ada.cart()["lines"]] == [(mug, 1)]

    at(12, 0)
    with app.app_context():
        r = report.compute(DAY, DAY)
        db.session.rollback()
    # Ada (guest) 1, Bob 1, Cleo 2 (she emptied hers and started again), Dan 1, Eve 1.
    assert r.carts_created == 6
    assert (r.lines_added, r.units_added, r.lines_removed) == (7, 15, 2)
    assert (r.checkouts_started, r.orders_placed, r.orders_paid) == (4, 4, 4)
    assert r.revenue_cents == sum(paid_totals) and len(paid_totals) == 4
    assert r.payments_failed == 1
    # Dan's (08:20, before his reminder), Eve's (08:20), Ada's after support's restore (09:30).
    assert r.abandoned_carts == 3
    assert (r.reminders_sent, r.carts_recovered) == (1, 1)
    # Ada's guest adds count as Ada's: five shoppers added, four checked out and ordered.
    assert [(s.step, s.shoppers) for s in r.funnel] == [
        ("added_to_cart", 5),
        ("started_checkout", 4),
        ("placed_order", 4),
    ]
    assert [(p.sku, p.units_added, p.units_ordered) for p in r.top_products] == [
        (pen, 5, 4),
        (mug, 3, 2),
        (jar, 2, 2),
        (tea, 5, 0),
    ]
    assert [(d.day, d.orders_placed, d.revenue_cents) for d in r.days] == [
        (DAY, 4, sum(paid_totals))
    ]
    # The API says the same, in the contract's words.
    body = ok(staff.client.get(f"/api/v1/admin/analytics?from={DAY}&to={DAY}"))
    assert body["revenue"] == f"{Decimal(sum(paid_totals)) / 100:.2f}"
    assert body["abandoned_carts"] == 3 and body["carts_recovered"] == 1

    result = app.test_cli_runner().invoke(
        args=["analytics", "verify", "--from", str(DAY), "--to", str(DAY)]
    )
    assert result.exit_code == 0, result.output
    assert "result: 100 % of what can still be recomputed matches" in result.output
    assert "0 events could not be recomputed" in result.output
    assert re.search(r"cart changes .*: (\d+) of \1 match \(100 %\)", result.output)


def test_verify_finds_an_event_missing_or_one_too_many(app, make_product):
    sku = make_product()
    shopper = Browser(app.test_client())
    ok(shopper.add(sku, 2))
    today = shop_today(app)
    verify = ["analytics", "verify", "--from", str(today), "--to", str(today)]
    assert app.test_cli_runner().invoke(args=verify).exit_code == 0
    with app.app_context():
        added = db.session.scalar(
            select(CommerceEvent).where(CommerceEvent.kind == EventKind.LINE_ADDED)
        )
        added.quantity = 3  # the events say 3 were added; the cart's log says 2
        db.session.commit()
    result = app.test_cli_runner().invoke(args=verify)
    assert result.exit_code == 1
    assert "missing: cart 1, line_added, sku " in result.output and ", units 2," in result.output
    assert (
        "not expected: cart 1, line_added, sku " in result.output and ", units 3," in result.output
    )
    assert "100 %" not in result.output.splitlines()[-1]


def test_verify_counts_apart_what_can_no_longer_be_recomputed(app, make_product):
    """An account deleted with its cart: its events stay (counted), its log is gone."""
    sku = make_product()
    shopper = Browser(app.test_client())
    shopper.register("gone@example.com")
    ok(shopper.add(sku, 1))
    ok(shopper.add(make_product(), 1))
    ok(shopper.api("DELETE", "/cart"))  # two lines removed, and the cart emptied
    assert shopper.form("/account/delete", {"password": "correct horse battery"}).status_code in (
        200,
        302,
    )
    today = shop_today(app)
    result = app.test_cli_runner().invoke(
        args=["analytics", "verify", "--from", str(today), "--to", str(today)]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"not recomputable: 6 events of carts deleted", result.output), result.output
    assert "6 events could not be recomputed" in result.output


class TestAFailedTransactionLeavesNoEvent:
    def test_a_cart_change_rolled_back(self, app, make_product):
        sku = make_product()
        with app.test_request_context():

            def boom(change):
                raise RuntimeError("something later in the transaction failed")

            with pytest.raises(RuntimeError):
                cart_services._write(
                    cart_services.Request(Owner.guest("t" * 32)),
                    _add_decision(sku),
                    also=boom,
                )
            assert db.session.scalar(select(func.count()).select_from(CommerceEvent)) == 0
            assert (
                db.session.scalar(select(func.count()).select_from(cart_models.CartRevision)) == 0
            )
            # The same change, not failing: its events are there.
            cart_services._write(cart_services.Request(Owner.guest("t" * 32)), _add_decision(sku))
            kinds = db.session.scalars(select(CommerceEvent.kind).order_by(CommerceEvent.id))
            assert list(kinds) == [EventKind.CART_CREATED, EventKind.LINE_ADDED]

    def test_an_order_whose_transaction_fails(self, app, make_product, monkeypatch):
        sku = make_product()
        shopper = Browser(app.test_client())
        ok(shopper.add(sku, 1))
        with app.app_context():
            before = db.session.scalar(select(func.count()).select_from(CommerceEvent))
            db.session.remove()

        def mail_fails(*args, **kwargs):
            raise RuntimeError("the outbox is unavailable")

        # The order's email is queued in the order's transaction, after its events.
        monkeypatch.setattr("storefront.mail.orders.order_changed", mail_fails)
        app.config["PROPAGATE_EXCEPTIONS"] = False
        answer = check_out(shopper, "ada@example.com")
        assert answer.status_code == 500
        with app.app_context():
            kinds = set(
                db.session.scalars(
                    select(CommerceEvent.kind).where(
                        CommerceEvent.kind.in_(
                            (EventKind.ORDER_PLACED, EventKind.LINE_ORDERED, EventKind.ORDER_PAID)
                        )
                    )
                )
            )
            assert kinds == set()
            # The checkout details' event committed with the details, before the payment.
            after = db.session.scalar(select(func.count()).select_from(CommerceEvent))
            assert after == before + 1


def _add_decision(sku: str):
    from storefront.cart import state
    from storefront.cart.ops import AddLine

    op = AddLine("line-1", sku, 2)
    return lambda cart: (op, state.apply(cart, op))
