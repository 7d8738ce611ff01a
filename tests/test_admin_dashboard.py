"""The back office's dashboard: orders and revenue today and this week (as defined on the page),
what waits for staff, low stock and the latest activity, as numbers with words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from storefront import clock
from storefront.admin.dashboard import period_starts
from storefront.extensions import db
from storefront.orders.models import Order
from tests.conftest import STAFF_EMAIL

ADDRESS = {
    "name": "Ada Lovelace",
    "address_line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 1AA",
    "country": "GB",
}
WEDNESDAY = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual", "STOREFRONT_LOW_STOCK": "3"}


def place(app, sku, provider="test"):
    shopper = type_of_browser(app)
    assert shopper.add(sku, 1).status_code == 200
    body = {"email": "ada@example.com", "address": ADDRESS, "shipping_method": "pickup"}
    assert shopper.api("PUT", "/checkout", json=body).status_code == 200
    payment = {"provider": provider, **({"token": "tok_ok"} if provider == "test" else {})}
    response = shopper.api("POST", "/checkout/complete", json={"payment": payment})
    assert response.status_code == 201, response.json
    return response.json["order"]


def type_of_browser(app):
    from tests.helpers import Browser

    return Browser(app.test_client())


def cell(page: str, testid: str, nth: int = 0) -> str:
    marker = f'data-testid="{testid}">'
    start = -1
    for _ in range(nth + 1):
        start = page.index(marker, start + 1)
    start += len(marker)
    return page[start : page.index("<", start)]


def test_periods_are_the_shops_days_and_weeks_from_monday():
    day, week = period_starts(WEDNESDAY, "UTC")
    assert (day, week) == (date(2026, 12, 2), date(2026, 11, 30))
    assert period_starts(datetime(2026, 11, 30, 0, 0, tzinfo=UTC), "UTC")[1] == week
    # Late on Sunday in UTC is already Monday in Tokyo: a new day and a new week there.
    sunday_night = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)
    assert period_starts(sunday_night, "UTC") == (date(2026, 11, 29), date(2026, 11, 23))
    assert period_starts(sunday_night, "Asia/Tokyo") == (date(2026, 11, 30), date(2026, 11, 30))


def test_an_empty_shop_shows_zeros_in_words(staff):
    page = staff.page("/admin").get_data(as_text=True)
    assert cell(page, "dashboard-orders") == "0" and cell(page, "dashboard-revenue") == "$0.00"
    assert "0 orders waiting for payment" in page
    assert "0 orders paid and waiting to be fulfilled" in page
    assert "No orders yet." in page and 'href="/admin/orders?status=pending"' in page


def test_orders_revenue_and_waiting_orders(app, staff, make_product):
    clock.freeze(WEDNESDAY)
    staff.login(STAFF_EMAIL)  # the frozen clock is hours from the sign-in: a new session
    sku = make_product(price="10.00", stock=100)
    paid = place(app, sku)  # 10.00 + 10 % tax, pickup: 11.00
    pending = place(app, sku, provider="manual")
    earlier = place(app, sku)
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.number == int(earlier["number"]))
            .values(placed_at=WEDNESDAY - timedelta(days=1))
        )
        db.session.commit()
    old = place(app, sku)
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.number == int(old["number"]))
            .values(placed_at=WEDNESDAY - timedelta(days=3))  # Sunday: last week
        )
        db.session.commit()

    page = staff.page("/admin").get_data(as_text=True)
    assert paid["total"] == "11.00" and pending["status"] == "pending"
    assert (cell(page, "dashboard-orders", 0), cell(page, "dashboard-revenue", 0)) == (
        "2",
        "$11.00",
    )
    assert (cell(page, "dashboard-orders", 1), cell(page, "dashboard-revenue", 1)) == (
        "3",
        "$22.00",
    )
    assert "1 order waiting for payment" in page
    assert "3 orders paid and waiting to be fulfilled" in page
    assert f'data-number="{paid["number"]}"' in page


def test_low_stock_lists_products_on_sale_at_or_below_the_setting(staff, make_product):
    two = make_product(name="Nearly Gone Mug", stock=2)
    three = make_product(stock=3)
    four = make_product(stock=4)
    retired = make_product(stock=1, active=False)
    page = staff.page("/admin").get_data(as_text=True)
    low = page[page.index('data-testid="dashboard-low-stock"') :]
    assert low.index(f'data-sku="{two}"') < low.index(f'data-sku="{three}"')
    assert "Nearly Gone Mug" in low and low.index("</table>") > low.index(f'data-sku="{three}"')
    assert f'data-sku="{four}"' not in page and f'data-sku="{retired}"' not in page
    assert " products on sale with 3 or fewer in stock" in page
    assert 'href="/admin/products?low=1"' in page


def test_recent_activity_shows_the_latest_staff_changes(staff):
    assert staff.form("/admin/coupons/WELCOME10/active", {"active": "0"}).status_code == 302
    page = staff.page("/admin").get_data(as_text=True)
    recent = page[page.index('data-testid="dashboard-recent-actions"') :]
    assert "coupon.disable" in recent and "WELCOME10" in recent and "staff@example.com" in recent


class TestInTheShopsTimeZone:
    """Today and this week are the shop's (STOREFRONT_TIME_ZONE), not UTC's: at 00:30 in
    New York, the order placed an hour earlier was yesterday's."""

    @pytest.fixture
    def settings(self):
        return {
            "STOREFRONT_PAYMENT_PROVIDERS": "test,manual",
            "STOREFRONT_TIME_ZONE": "America/New_York",
        }

    def test_today_starts_at_the_shops_midnight(self, app, staff, make_product):
        # Thursday 2026-12-03 05:30 UTC is 00:30 on Thursday in New York (UTC-5).
        at = datetime(2026, 12, 3, 5, 30, tzinfo=UTC)
        clock.freeze(at)
        staff.login(STAFF_EMAIL)
        sku = make_product(price="10.00", stock=100)
        numbers = [place(app, sku)["number"] for _ in range(3)]
        placed = {
            numbers[0]: at - timedelta(minutes=20),  # 00:10 Thursday in New York: today
            numbers[1]: at - timedelta(hours=1),  # 23:30 Wednesday there, Thursday in UTC
            numbers[2]: at - timedelta(days=3),  # Monday there: this week
        }
        with app.app_context():
            for number, when in placed.items():
                db.session.execute(
                    update(Order).where(Order.number == int(number)).values(placed_at=when)
                )
            db.session.commit()

        page = staff.page("/admin").get_data(as_text=True)
        assert (cell(page, "dashboard-orders", 0), cell(page, "dashboard-revenue", 0)) == (
            "1",
            "$11.00",
        )
        assert (cell(page, "dashboard-orders", 1), cell(page, "dashboard-revenue", 1)) == (
            "3",
            "$33.00",
        )
        assert "Period (America/New_York)" in page
        assert "(since Thu 2026-12-03)" in page and "(since Mon 2026-11-30)" in page
