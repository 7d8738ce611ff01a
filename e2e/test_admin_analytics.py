"""The back office's analytics in a browser, after real shopping on the session's shop: the
charts are drawn (under the shop's CSP), the tables beside them have the numbers the shopping
made, the CSV downloads, a bad range is refused in words, and axe-core finds nothing serious.

The shop is shared with the other end-to-end tests, which shop too: the test reads today's
figures before and after its own shopping, and a product of its own for the top products."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e import catalog_change
from e2e.shop import (
    Shipping,
    add_to_cart,
    choose_method,
    fill_checkout,
    make_staff,
    money,
    new_email,
    open_checkout,
    order_number,
    place_order,
    visit,
)
from e2e.test_accessibility import assert_accessible

CHARTS = ("sales", "funnel", "abandonment", "products")


def today_row(page: Page, table: str):
    day = datetime.now(UTC).date().isoformat()  # the session's shop counts days in UTC
    return page.get_by_test_id(table).locator(f'tr[data-day="{day}"]')


def figure(page: Page, name: str) -> str:
    return (
        page.get_by_test_id("analytics-figures").locator(f'dd[data-figure="{name}"]').inner_text()
    )


def open_today(page: Page) -> None:
    visit(page, "/admin/analytics")
    page.get_by_role("navigation", name="Ranges").get_by_role("link", name="Today").click()
    expect(page.get_by_test_id("analytics-range")).to_contain_text("(1 day)")


def test_staff_see_todays_shopping_in_charts_tables_and_csv(new_device, shop_server, axe_source):
    sku = f"AN-{secrets.token_hex(4).upper()}"
    name = f"Chart Mug {sku[-4:]}"
    catalog_change.run(shop_server.env, "create", sku, name, "12.00", "50")

    staff = new_device(bypass_csp=False)  # the charts must draw under the real CSP
    refused: list[str] = []  # what the browser's CSP blocked, as its console reports it
    staff.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    make_staff(staff, shop_server)
    open_today(staff)
    before_orders = int(figure(staff, "orders_placed"))
    before_revenue = money(figure(staff, "revenue"))

    # A shopper adds three of the new mug, and one more, then pays with the test card.
    shopper = new_device()
    add_to_cart(shopper, sku, 3)
    add_to_cart(shopper, sku, 1)
    open_checkout(shopper)
    fill_checkout(shopper, Shipping(email=new_email("analytics")))
    choose_method(shopper, "standard")
    place_order(shopper, "tok_ok")
    order_number(shopper)
    total = money(shopper.get_by_test_id("order-total").inner_text())

    open_today(staff)
    expect(
        staff.get_by_test_id("analytics-figures").locator('dd[data-figure="orders_placed"]')
    ).to_have_text(str(before_orders + 1))
    assert money(figure(staff, "revenue")) == before_revenue + total

    # Every chart is drawn on its canvas, named in words for those who cannot see it.
    canvases = staff.locator("canvas[data-chart]")
    expect(canvases).to_have_count(len(CHARTS))
    for chart in CHARTS:
        canvas = staff.locator(f'canvas[data-chart="{chart}"]')
        expect(canvas).to_have_attribute("data-drawn", "true")
        expect(canvas).to_have_attribute("role", "img")
        expect(canvas).to_have_attribute("aria-label", re.compile(r"\d"))
        assert canvas.evaluate("c => c.width > 0 && c.height > 0")
    assert refused == [], refused  # Chart.js and the page's script needed nothing the CSP bars
    assert (
        staff.evaluate(
            "() => Chart.getChart(document.querySelector('canvas[data-chart=sales]')).data.datasets.length"
        )
        == 2
    )

    # The tables beside them hold today's numbers, the mug's among the top products.
    sales_today = today_row(staff, "analytics-sales-table")
    expect(sales_today.locator('[data-figure="orders_placed"]')).to_have_text(
        str(before_orders + 1)
    )
    assert (
        money(sales_today.locator('[data-figure="revenue"]').inner_text()) == before_revenue + total
    )
    mug = staff.get_by_test_id("analytics-products-table").locator(f'tr[data-sku="{sku}"]')
    expect(mug.get_by_role("rowheader")).to_have_text(name)
    expect(mug.locator('[data-figure="units_added"]')).to_have_text("4")
    expect(mug.locator('[data-figure="units_ordered"]')).to_have_text("4")
    funnel = staff.get_by_test_id("analytics-funnel-table")
    placed = int(
        funnel.locator('tr[data-step="placed_order"] [data-figure="shoppers"]').inner_text()
    )
    added = int(
        funnel.locator('tr[data-step="added_to_cart"] [data-figure="shoppers"]').inner_text()
    )
    assert 1 <= placed <= added

    # The CSV link downloads the same day's figures.
    with staff.expect_download() as download_info:
        staff.get_by_test_id("analytics-csv").click()
    download = download_info.value
    assert re.fullmatch(
        r"analytics-days-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename
    )
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:5] == ["day", "carts_created", "orders_placed", "orders_paid", "revenue"]
    day = datetime.now(UTC).date().isoformat()
    today = next(row for row in rows if row[0] == day)
    assert int(today[2]) == before_orders + 1
    assert Decimal(today[4]) == before_revenue + total


def test_the_range_form_by_keyboard_and_a_bad_range_in_words(new_device, shop_server, axe_source):
    staff = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(staff, shop_server)
    visit(staff, "/admin")
    staff.get_by_role("navigation", name="Back office").get_by_role(
        "link", name="Analytics"
    ).click()
    expect(staff.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    expect(staff.get_by_test_id("analytics-range")).to_contain_text("(30 days)")
    assert_accessible(staff, axe_source)

    # Typed by keyboard: the dates, then Enter in the form.
    staff.get_by_label("From", exact=True).fill("2026-03-01")
    staff.get_by_label("To (included)", exact=True).fill("2026-03-31")
    staff.get_by_label("To (included)", exact=True).press("Enter")
    expect(staff.get_by_test_id("analytics-range")).to_contain_text("(31 days)")
    assert "from=2026-03-01" in staff.url

    # A reversed range: the form comes back with the reason, announced, nothing drawn.
    staff.get_by_label("From", exact=True).fill("2026-04-01")
    staff.get_by_label("To (included)", exact=True).fill("2026-03-01")
    with staff.expect_response(lambda r: "/admin/analytics?" in r.url) as answer:
        staff.get_by_role("button", name="Show").click()
    assert answer.value.status == 422
    alert = staff.get_by_role("alert")
    expect(alert).to_contain_text("before it starts")
    expect(staff.get_by_label("From", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(staff.locator("canvas")).to_have_count(0)
    assert_accessible(staff, axe_source)
