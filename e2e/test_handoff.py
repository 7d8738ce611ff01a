"""Handoff without an account, in real browsers: a guest's cart continued on another device
by the QR code's link and by the typed code; from then on a change on one shows on the other
live, without a reload. Every wait is on the page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.shop import (
    add_to_cart,
    badge,
    cart_line,
    expect_lines,
    notice,
    open_live,
    remove_line,
    same_page,
    set_quantity,
    visit,
)


def show_handoff(page: Page) -> tuple[str, str]:
    """Open "Continue on another device" from the cart: (the code, the QR code's link)."""
    visit(page, "/cart")
    page.get_by_test_id("handoff-open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Continue on another device")
    qr = page.get_by_test_id("handoff-qr")
    expect(qr).to_be_visible()
    code = page.get_by_test_id("handoff-code").inner_text()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{6}", code), code
    # The QR code's accessible name carries the link it encodes; the page shows it too.
    link = re.search(r"https?://\S+/h/" + code, qr.get_attribute("aria-label")).group(0)
    expect(page.get_by_test_id("handoff-link")).to_have_attribute("href", link)
    return code, link


def test_handoff_by_the_qr_link_then_changes_show_live_on_both(new_device):
    laptop = new_device()
    add_to_cart(laptop, "DEMO-0040", 2)
    _, link = show_handoff(laptop)

    phone = new_device()
    phone.goto(link)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Continue a cart on this device?")
    expect(badge(phone)).to_have_text("0")  # opening the link joined nothing yet
    phone.get_by_test_id("handoff-confirm").click()
    expect(phone).to_have_url(re.compile(r"/cart$"))
    expect(notice(phone)).to_contain_text("a change on either shows on both")
    expect_lines(phone, {"DEMO-0040": 2})

    open_live(laptop, "/cart")
    open_live(phone, "/cart")
    with same_page(laptop):
        set_quantity(phone, "DEMO-0040", 5)
        expect_lines(laptop, {"DEMO-0040": 5})
    with same_page(phone):
        add_to_cart(laptop, "DEMO-0041", 1)
        expect_lines(phone, {"DEMO-0040": 5, "DEMO-0041": 1})


def test_handoff_by_the_typed_code_across_three_devices(new_device):
    laptop = new_device()
    add_to_cart(laptop, "DEMO-0050", 1)
    code, _ = show_handoff(laptop)

    phone = new_device()
    add_to_cart(phone, "DEMO-0051", 1)  # what the phone held joins the laptop's cart
    visit(phone, "/cart/handoff")
    phone.get_by_label("Code shown on your other device").fill(f"{code[:3].lower()} {code[3:]}")
    phone.get_by_test_id("handoff-join").click()
    expect(phone).to_have_url(re.compile(r"/cart$"))
    expect(notice(phone)).to_contain_text("What this device held before was added")
    expect_lines(phone, {"DEMO-0050": 1, "DEMO-0051": 1})

    # The code worked once: a third device typing it is told so and keeps its own cart.
    tablet = new_device()
    visit(tablet, "/cart/handoff")
    tablet.get_by_label("Code shown on your other device").fill(code)
    tablet.get_by_test_id("handoff-join").click()
    expect(tablet.get_by_text("already been used")).to_be_visible()
    expect(badge(tablet)).to_have_text("0")

    open_live(laptop, "/cart")
    expect_lines(laptop, {"DEMO-0050": 1, "DEMO-0051": 1})
    open_live(phone, "/cart")
    with same_page(phone):
        remove_line(laptop, "DEMO-0050")
        expect(cart_line(phone, "DEMO-0050")).to_have_count(0)
        expect_lines(phone, {"DEMO-0051": 1})
