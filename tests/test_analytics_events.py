"""Where commerce events are recorded, beyond the day of shopping: a registration adopting the
guest's cart, a second checkout on details kept from the first, staff cancelling and refunding,
the expiry job, the device kind; what an event holds (no email, no options); and their
pruning by ``cleanup``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storefront import clock, jobs
from storefront.analytics import events, report
from storefront.analytics.kinds import DeviceKind, EventKind
from storefront.analytics.models import CommerceEvent
from storefront.extensions import db
from tests.helpers import Browser
from tests.test_checkout import ADDRESS

DETAILS = {"email": "ada@example.com", "address": ADDRESS, "shipping_method": "standard"}
PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile"


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


def recorded(app, *kinds) -> list[CommerceEvent]:
    with app.app_context():
        rows = db.session.scalars(
            select(CommerceEvent)
            .where(CommerceEvent.kind.in_(kinds) if kinds else True)
            .order_by(CommerceEvent.id)
        ).all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def place(browser, provider="test", token="tok_ok", details=True):
    if details:
        assert browser.api("PUT", "/checkout", json=DETAILS).status_code == 200
    body = {"payment": {"provider": provider, "token": token}}
    answer = browser.api("POST", "/checkout/complete", json=body)
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    return answer.json["order"]


def today_report(app):
    with app.app_context():
        r = report.compute(clock.now().date(), clock.now().date())
        db.session.remove()
        return r


def test_a_registration_adopting_the_guests_cart_is_one_shopper(app, make_product):
    sku = make_product()
    browser = Browser(app.test_client())
    browser.add(sku, 3)
    browser.register("new@example.com")
    [merged] = recorded(app, EventKind.MERGED)
    assert (merged.quantity, merged.cart_units) == (3, 3) and merged.peer is not None
    with app.app_context():
        assert merged.shopper == events.shopper_hash(f"user:{_user_id(app)}")
    browser.api("PUT", "/checkout", json={**DETAILS, "email": "new@example.com"})
    assert [s.shoppers for s in today_report(app).funnel] == [1, 1, 0]


def _user_id(app) -> int:
    from storefront.accounts.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == "new@example.com"))


def test_a_second_checkout_on_kept_details_is_started_when_ordered(app, make_product):
    sku = make_product(stock=50)
    browser = Browser(app.test_client())
    browser.register("ada@example.com")
    browser.add(sku, 1)
    place(browser)
    browser.add(sku, 2)
    place(browser, details=False)  # the details kept from the first order, nothing saved
    started = recorded(app, EventKind.CHECKOUT_STARTED)
    placed = recorded(app, EventKind.ORDER_PLACED)
    assert len(started) == 2 and len(placed) == 2
    # A third checkout: details saved again after the second order start it once.
    browser.add(sku, 1)
    assert browser.api("PUT", "/checkout", json=DETAILS).status_code == 200
    again = browser.api("PUT", "/checkout", json={**DETAILS, "phone": "+44 20 7946 0000"})
    assert again.status_code == 200, again.json
    assert len(recorded(app, EventKind.CHECKOUT_STARTED)) == 3


def test_staff_cancel_and_refund_and_the_expiry_job_are_recorded(app, staff, make_product):
    sku = make_product(price="10.00", stock=50)
    shopper = Browser(app.test_client())
    shopper.add(sku, 1)
    first = place(shopper)  # paid
    shopper.add(sku, 1)
    second = place(shopper, provider="manual", details=False)  # pending
    shopper.add(sku, 1)
    third = place(shopper, provider="manual", details=False)  # pending, left to expire
    staff.page("/")
    refund = staff.api("POST", f"/admin/orders/{first['number']}/refund", json={"amount": "4.00"})
    assert refund.status_code == 200, refund.json
    assert staff.api("POST", f"/admin/orders/{second['number']}/cancel", json={}).status_code == 200
    clock.advance(timedelta(days=30))
    with app.app_context():
        jobs.run_once()
    cancelled = recorded(app, EventKind.ORDER_CANCELLED)
    assert [(e.order_number, DeviceKind(e.device)) for e in cancelled] == [
        (int(second["number"]), DeviceKind.SUPPORT),
        (int(third["number"]), DeviceKind.SERVER),
    ]
    [refunded] = recorded(app, EventKind.ORDER_REFUNDED)
    assert (refunded.order_number, refunded.amount_cents) == (int(first["number"]), 400)


def test_an_event_holds_the_device_kind_and_nothing_personal(app, make_product):
    from tests.factories import make_product as factory

    with app.app_context():
        engravable = factory(options="engraving:text(40)")
    phone = Browser(app.test_client(), user_agent=PHONE)
    phone.add(engravable, 1, {"engraving": "For Ada, with love"})
    rows = recorded(app)
    assert [EventKind(e.kind) for e in rows] == [EventKind.CART_CREATED, EventKind.LINE_ADDED]
    assert {DeviceKind(e.device) for e in rows} == {DeviceKind.MOBILE}
    with app.app_context():
        raw = db.session.execute(select(CommerceEvent.__table__)).all()
    dumped = repr(raw)
    assert "Ada" not in dumped and "love" not in dumped and "engraving" not in dumped
    assert "guest" not in dumped  # the shopper is a keyed hash, not the channel
    assert all(len(e.shopper) == 16 for e in rows)


def test_cleanup_deletes_events_past_retention_only(app, make_product):
    sku = make_product()
    browser = Browser(app.test_client())
    browser.add(sku, 1)  # 2 events, now
    clock.advance(timedelta(days=395))  # STOREFRONT_ANALYTICS_DAYS, by default
    browser.add(sku, 1)  # 1 event, a year later (the guest cart expired meanwhile: 2)
    kept = len(recorded(app))
    clock.advance(timedelta(minutes=1))
    result = app.test_cli_runner().invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "2 analytics events past retention deleted" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CommerceEvent)) == kept - 2
