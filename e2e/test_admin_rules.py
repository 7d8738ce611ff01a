"""The back office's rules pages in a browser: staff create a coupon and switch off a shipping
method through the pages, and a shopper's checkout offers the coupon and no longer offers the
method; axe-core on every page of this part of the back office (and the dashboard)."""

from __future__ import annotations

import secrets

from playwright.sync_api import Page, expect

from e2e.shop import (
    Shipping,
    add_to_cart,
    checkout_amount,
    checkout_field,
    fill_checkout,
    make_staff,
    new_email,
    open_checkout,
    repriced,
    visit,
)
from e2e.test_accessibility import assert_accessible


def staff_device(new_device, shop_server, **options) -> Page:
    page = new_device(**options)
    make_staff(page, shop_server)
    visit(page, "/admin")
    expect(page.get_by_role("heading", name="Back office", level=1)).to_be_visible()
    return page


def test_staff_changes_reach_the_shoppers_checkout(new_device, shop_server):
    staff = staff_device(new_device, shop_server)
    code = f"E2E-{secrets.token_hex(3).upper()}"
    method = f"e2e-{secrets.token_hex(3)}"

    visit(staff, "/admin/coupons")
    staff.get_by_role("link", name="New coupon").click()
    staff.get_by_label("Code").fill(code.lower())
    staff.get_by_label("Kind").select_option("fixed")
    staff.get_by_label("Value").fill("3.00")
    staff.get_by_role("button", name="Create coupon").click()
    row = staff.locator(f'[data-testid="coupon-row"][data-code="{code}"]')
    expect(row.get_by_test_id("coupon-state")).to_have_text("On")
    expect(staff.get_by_test_id("notice")).to_contain_text(f"Coupon {code} created.")

    visit(staff, "/admin/shipping/new")
    staff.get_by_label("Id", exact=True).fill(method)
    staff.get_by_label("Name", exact=True).fill("Courier by bike")
    staff.get_by_label("Price (USD)").fill("7.00")
    staff.get_by_label("Position (optional)").fill("9000")  # after the demo's methods
    staff.get_by_role("button", name="Create shipping method").click()
    method_row = staff.locator(f'[data-testid="shipping-row"][data-id="{method}"]')
    expect(method_row.get_by_test_id("shipping-state")).to_have_text("On")

    shopper = new_device()
    add_to_cart(shopper, "DEMO-0414", 2)
    open_checkout(shopper)
    expect(shopper.get_by_test_id(f"shipping-method-{method}")).to_be_visible()
    fill_checkout(shopper, Shipping(email=new_email("shopper")))
    coupon = checkout_field(shopper, "coupon")
    with repriced(shopper):
        coupon.fill(code)
        coupon.press("Tab")
    expect(coupon).not_to_have_attribute("aria-invalid", "true")
    assert checkout_amount(shopper, "discount") == 3

    # Staff switch the method off from the list (htmx swaps the row in place).
    method_row.get_by_role("button", name="Switch off").click()
    expect(method_row.get_by_test_id("shipping-state")).to_have_text("Off")
    expect(method_row.get_by_role("button", name="Switch on")).to_be_visible()

    open_checkout(shopper)
    expect(shopper.get_by_test_id("shipping-method-standard")).to_be_visible()
    expect(shopper.get_by_test_id(f"shipping-method-{method}")).to_have_count(0)


def test_rules_pages_and_dashboard_have_no_serious_violations(new_device, shop_server, axe_source):
    staff = staff_device(new_device, shop_server, bypass_csp=True)  # axe is injected as a script
    for path, heading in (
        ("/admin", "Back office"),
        ("/admin/coupons", "Coupons"),
        ("/admin/coupons/new", "New coupon"),
        ("/admin/coupons/WELCOME10", "Coupon WELCOME10"),
        ("/admin/shipping", "Shipping methods"),
        ("/admin/shipping/new", "New shipping method"),
        ("/admin/shipping/pickup", "Shipping method Pick up in the shop"),
        ("/admin/tax", "Tax rates"),
        ("/admin/tax/new", "New tax rate"),
    ):
        visit(staff, path)
        expect(staff.get_by_role("heading", name=heading, level=1)).to_be_visible()
        assert_accessible(staff, axe_source)

    # A refused form, with its reason shown.
    visit(staff, "/admin/tax/new")
    staff.get_by_label("Percent").fill("250")
    staff.get_by_role("button", name="Create tax rate").click()
    expect(staff.get_by_test_id("form-error")).to_contain_text("from 0 to 100")
    assert_accessible(staff, axe_source)
