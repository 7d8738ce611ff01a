"""The back office's orders in the browser: staff fulfil an order while its shopper has the
order's page open on another device, and that page shows it without a reload; the orders list
and an order's page pass axe-core. Every wait is on the page's DOM, never on a clock."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.shop import (
    Shipping,
    add_to_cart,
    choose_method,
    fill_checkout,
    make_staff,
    new_email,
    open_checkout,
    order_number,
    place_order,
    same_page,
    visit,
    wait_connected,
)
from e2e.test_accessibility import assert_accessible


def staff_device(new_device, shop_server) -> Page:
    """A device signed in as a new staff account (``flask users grant-staff``)."""
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(page, shop_server)
    return page


def guest_order(page: Page) -> str:
    """A guest buys one item with the test card; the order's page is left open."""
    add_to_cart(page, "DEMO-0421", 1)
    open_checkout(page)
    with same_page(page):
        fill_checkout(page, Shipping(email=new_email("order-shopper")))
        choose_method(page, "standard")
    place_order(page, "tok_ok")
    return order_number(page)


def test_staff_fulfil_and_the_shoppers_open_order_page_follows(new_device, shop_server, axe_source):
    shopper = new_device()
    number = guest_order(shopper)
    wait_connected(shopper)
    status = shopper.get_by_test_id("order-status")
    expect(status).to_have_text("Paid")

    staff = staff_device(new_device, shop_server)
    visit(staff, "/admin/orders")
    expect(staff.get_by_role("heading", name="Orders", level=1)).to_be_visible()
    row = staff.locator(f'[data-testid="admin-order"][data-number="{number}"]')
    expect(row).to_contain_text("Paid")
    assert_accessible(staff, axe_source)

    row.get_by_role("link", name=number, exact=True).click()
    expect(staff.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
    expect(staff.get_by_test_id("order-step")).to_have_count(2)  # placed, paid
    assert_accessible(staff, axe_source)

    with same_page(shopper):
        staff.get_by_label("Tracking note (optional)").fill("DHL 00340434 5678")
        staff.get_by_role("button", name="Mark fulfilled").click()
        expect(staff.get_by_test_id("admin-order-status")).to_have_text("Fulfilled")
        expect(staff.get_by_text(f"Order {number} marked fulfilled.")).to_be_visible()

        # The shopper's page, open all along on another device, follows without a reload.
        expect(status).to_have_text("Fulfilled")
        expect(status).to_have_attribute("data-status", "fulfilled")
        expect(shopper.get_by_test_id("order-tracking")).to_contain_text("DHL 00340434 5678")
    region = shopper.locator(f"#order-status-{number}")
    expect(region).to_have_attribute("aria-live", "polite")

    # The detail page after the action: its timeline says who fulfilled it; still accessible.
    expect(staff.get_by_test_id("order-step").last).to_contain_text("Fulfilled")
    expect(staff.get_by_test_id("order-step").last).to_contain_text("DHL 00340434 5678")
    assert_accessible(staff, axe_source)

    expect(staff.get_by_role("button", name="Mark fulfilled")).to_have_count(0)

    # The list, filtered by status: with htmx the results change in place.
    visit(staff, "/admin/orders")
    with same_page(staff):
        staff.get_by_label("Status").select_option("fulfilled")
        expect(staff).to_have_url(re.compile(r"status=fulfilled"))
        expect(
            staff.locator('[data-testid="admin-order"]:not([data-status="fulfilled"])')
        ).to_have_count(0)
        expect(
            staff.locator(f'[data-testid="admin-order"][data-number="{number}"]')
        ).to_be_visible()


def test_an_action_that_no_longer_fits_is_refused_with_a_reason(new_device, shop_server):
    shopper = new_device()
    number = guest_order(shopper)
    first = staff_device(new_device, shop_server)
    second = new_device(storage_state=first.context.storage_state())  # same staff, two tabs
    for page in (first, second):
        visit(page, f"/admin/orders/{number}")
    first.get_by_role("button", name="Mark fulfilled").click()
    expect(first.get_by_test_id("admin-order-status")).to_have_text("Fulfilled")

    with second.expect_navigation() as landed:
        second.get_by_role("button", name="Cancel the order").click()
    assert landed.value.status == 409
    refused = second.get_by_test_id("order-refused")
    expect(refused).to_contain_text(re.compile(r"changed while you were looking at it"))
    expect(second.get_by_test_id("admin-order-status")).to_have_text("Fulfilled")
