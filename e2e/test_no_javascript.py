"""With JavaScript off, the same cart works through plain forms and redirects."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.shop import add_to_cart, badge, cart_line, notice, open_product, subtotal, visit


def test_cart_works_without_javascript(new_device):
    page = new_device(java_script_enabled=False)
    product = open_product(page, "DEMO-0070")
    # Scripts really are off: htmx never loaded, so the form is a plain POST.
    assert page.evaluate("() => typeof window.htmx") == "undefined"
    expect(page.locator("#add-form")).to_have_attribute("method", "post")

    with page.expect_navigation():
        page.get_by_test_id("add-quantity").fill("2")
        page.get_by_test_id("add-to-cart").click()
    # Redirected back to the product page, with the notice and the new count.
    assert page.url.endswith("/products/DEMO-0070")
    expect(notice(page)).to_contain_text(f"Added 2 × {product.name}")
    expect(badge(page)).to_have_text("2")

    other = add_to_cart(page, "DEMO-0071", 1)
    visit(page, "/cart")
    expect(page.get_by_test_id("cart-line")).to_have_count(2)

    # Update a quantity with the line's own Update button.
    line = cart_line(page, "DEMO-0070")
    line.get_by_test_id("line-quantity").fill("5")
    with page.expect_navigation():
        line.get_by_role("button", name="Update").click()
    assert page.url.endswith("/cart")
    expect(notice(page)).to_contain_text(f"{product.name}: quantity now 5")
    expect(cart_line(page, "DEMO-0070").get_by_test_id("line-quantity")).to_have_value("5")
    expect(badge(page)).to_have_text("6")
    assert subtotal(page) == product.price * 5 + other.price

    # Pressing Enter in the field submits the plain form too.
    field = cart_line(page, "DEMO-0071").get_by_test_id("line-quantity")
    field.fill("3")
    with page.expect_navigation():
        field.press("Enter")
    expect(cart_line(page, "DEMO-0071").get_by_test_id("line-quantity")).to_have_value("3")
    expect(badge(page)).to_have_text("8")

    # Remove a line.
    with page.expect_navigation():
        cart_line(page, "DEMO-0070").get_by_test_id("line-remove").click()
    assert page.url.endswith("/cart")
    expect(notice(page)).to_contain_text(f"Removed {product.name}")
    expect(cart_line(page, "DEMO-0070")).to_have_count(0)
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    expect(badge(page)).to_have_text("3")
    assert subtotal(page) == other.price * 3
