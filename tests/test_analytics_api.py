"""GET /api/v1/admin/analytics: the contract's JSON for staff, 404 for everyone else, and a
clear 422 invalid_range for any range it cannot answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storefront import clock
from tests.helpers import Browser

TODAY = "2026-12-01"
CONTRACT_KEYS = {
    "from",
    "to",
    "carts_created",
    "lines_added",
    "units_added",
    "lines_removed",
    "checkouts_started",
    "orders_placed",
    "orders_paid",
    "revenue",
    "abandoned_carts",
    "reminders_sent",
    "carts_recovered",
    "funnel",
    "top_products",
}


@pytest.fixture(autouse=True)
def frozen(app):
    clock.freeze(datetime(2026, 12, 1, 12, tzinfo=UTC))
    yield
    clock.reset()


def analytics(who: Browser, query: str = f"from={TODAY}&to={TODAY}"):
    return who.client.get(f"/api/v1/admin/analytics?{query}", headers=who.headers())


def test_staff_get_the_contracts_json_with_what_shoppers_did(app, staff, make_product):
    sku = make_product(price="4.25", stock=50)
    shopper = Browser(app.test_client())
    assert shopper.add(sku, 2).status_code == 200
    line = shopper.line_id(sku)
    assert shopper.api("PATCH", f"/cart/lines/{line}", json={"quantity": 5}).status_code == 200
    answer = analytics(staff)
    assert answer.status_code == 200
    body = answer.json
    assert set(body) == CONTRACT_KEYS
    assert (body["from"], body["to"]) == (TODAY, TODAY)
    assert (body["carts_created"], body["lines_added"], body["units_added"]) == (1, 1, 5)
    assert body["revenue"] == "0.00"
    assert body["funnel"] == [
        {"step": "added_to_cart", "shoppers": 1},
        {"step": "started_checkout", "shoppers": 0},
        {"step": "placed_order", "shoppers": 0},
    ]
    assert body["top_products"] == [{"sku": sku, "units_added": 5, "units_ordered": 0}]
    # Another day saw none of it.
    other = analytics(staff, "from=2026-11-30&to=2026-11-30").json
    assert other["carts_created"] == 0 and other["top_products"] == []


def test_a_year_and_a_day_is_the_longest_range(staff):
    assert analytics(staff, "from=2024-01-01&to=2024-12-31").status_code == 200  # 366 days
    too_long = analytics(staff, "from=2025-01-01&to=2026-01-02")
    assert too_long.status_code == 422
    assert "at most 366 days" in too_long.json["error"]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "from=2026-12-01",
        "to=2026-12-01",
        "from=&to=2026-12-01",
        "from=2026-12-02&to=2026-12-01",  # reversed
        "from=2026-13-01&to=2026-12-01",
        "from=2026-02-30&to=2026-03-01",
        "from=2026-1-1&to=2026-12-01",
        "from=20261201&to=20261202",
        "from=2026-12-01T00:00&to=2026-12-01",
        "from=2026-12-01&to=2026-12-01%00",
        "from=%D9%A2%D9%A0%D9%A2%D9%A6-12-01&to=2026-12-01",  # Arabic-Indic digits
        "from=0000-01-01&to=0000-01-02",
        "from=" + "9" * 5000 + "&to=2026-12-01",
        "from=0001-01-01&to=9999-12-31",
    ],
)
def test_a_range_it_cannot_answer_is_a_clear_422(staff, query):
    answer = analytics(staff, query)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    error = answer.json["error"]
    assert error["code"] == "invalid_range"
    assert error["message"] and len(error["message"]) < 200


def test_only_staff_see_the_analytics(app, staff):
    shopper = Browser(app.test_client())
    shopper.register("shopper@example.com")
    agent = Browser(app.test_client())
    agent.register("agent@example.com")
    result = app.test_cli_runner().invoke(args=["users", "grant-support", "agent@example.com"])
    assert result.exit_code == 0
    guest = Browser(app.test_client())
    guest.page("/")
    for who in (guest, shopper, agent):
        answer = analytics(who)
        assert answer.status_code == 404
        assert answer.json["error"]["code"] == "not_found"
        assert "carts_created" not in answer.get_data(as_text=True)
    assert analytics(staff).status_code == 200


def test_a_forged_session_cookie_is_no_staff(app, staff):
    forged = Browser(app.test_client())
    cookie = staff.client.get_cookie("storefront").value
    forged.client.set_cookie(
        "storefront", cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    )
    assert analytics(forged).status_code == 404


def test_only_get_is_answered(staff):
    answer = staff.client.post(
        f"/api/v1/admin/analytics?from={TODAY}&to={TODAY}", headers=staff.headers(), json={}
    )
    assert answer.status_code == 405
