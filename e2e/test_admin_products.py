"""The back office's products in a real browser: a staff member creates a product and changes
its price through the pages; the products list, new and edit pages pass axe-core."""

from __future__ import annotations

import secrets

from playwright.sync_api import expect

from e2e.shop import make_staff, money, open_product, visit
from e2e.test_accessibility import assert_accessible


def test_staff_create_a_product_and_change_its_price(new_device, shop_server):
    page = new_device()
    make_staff(page, shop_server)
    sku = f"E2E-{secrets.token_hex(3).upper()}"

    visit(page, "/admin/products")
    page.get_by_role("link", name="New product").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New product")
    page.get_by_label("SKU", exact=True).fill(sku)
    page.get_by_label("Name", exact=True).fill("Blue Mug")
    page.get_by_label("Price (USD)").fill("-5")
    page.get_by_role("button", name="Create product").click()
    # Refused with the field named, nothing created; what was typed is still there.
    expect(page.get_by_text("the amount cannot be negative")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Blue Mug")
    page.get_by_label("Price (USD)").fill("5.78")
    page.get_by_label("Opening stock").fill("12")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Blue Mug")
    expect(page.get_by_test_id("notice")).to_contain_text(f"Blue Mug ({sku}) created")
    expect(page.get_by_test_id("product-stock")).to_have_text("12")

    page.get_by_label("Price (USD)").fill("4.99")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Blue Mug saved")
    expect(page.get_by_test_id("product-price")).to_have_text("$4.99")

    page.get_by_label("Change by").fill("-2")
    page.get_by_label("Reason (required)").fill("Two chipped in the stock room")
    page.get_by_role("button", name="Adjust stock").click()
    expect(page.get_by_test_id("product-stock")).to_have_text("10")

    visit(page, f"/admin/products?q={sku}")
    row = page.locator(f'[data-testid="admin-product"][data-sku="{sku}"]')
    expect(row).to_contain_text("$4.99")
    expect(row).to_contain_text("Active")

    shopper = new_device()
    assert open_product(shopper, sku).price == money("4.99")


def test_products_pages_have_no_serious_violations(new_device, shop_server, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(page, shop_server)
    visit(page, "/admin/products?low=1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Products")
    assert_accessible(page, axe_source)
    visit(page, "/admin/products")
    expect(page.get_by_test_id("admin-product").first).to_be_visible()
    assert_accessible(page, axe_source)

    visit(page, "/admin/products/new")
    assert_accessible(page, axe_source)
    page.get_by_role("button", name="Create product").click()  # empty: every error shown
    expect(page.get_by_role("alert").first).to_be_visible()
    assert_accessible(page, axe_source)

    visit(page, "/admin/products/DEMO-0001")
    expect(page.get_by_role("heading", level=1)).to_contain_text("DEMO-0001")
    assert_accessible(page, axe_source)
    page.get_by_role("button", name="Adjust stock").click()  # no reason: refused
    expect(page.get_by_text("The stock was not changed")).to_be_visible()
    assert_accessible(page, axe_source)

    visit(page, "/admin/products-import")
    assert_accessible(page, axe_source)
