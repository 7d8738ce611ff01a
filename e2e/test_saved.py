"""Saved for later in real browsers: a line saved on one device leaves the cart and appears
in the saved list on the account's other devices live, and moving it back shows everywhere,
without a reload. Every wait is on the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from e2e.shop import (
    add_to_cart,
    badge,
    cart_line,
    expect_lines,
    new_email,
    notice,
    open_live,
    register,
    same_page,
    sign_in,
)


def saved_line(page: Page, sku: str):
    return page.locator(f'[data-testid="saved-line"][data-sku="{sku}"]')


def test_saved_for_later_follows_the_account_live_across_three_devices(new_device):
    email = new_email("saved")
    laptop = new_device()
    register(laptop, email)
    add_to_cart(laptop, "DEMO-0060", 1)
    add_to_cart(laptop, "DEMO-0061", 2)
    phone, tablet = new_device(), new_device()
    sign_in(phone, email)
    sign_in(tablet, email)

    open_live(laptop, "/cart")
    open_live(phone, "/saved")
    open_live(tablet, "/cart")
    expect(phone.get_by_test_id("saved-empty")).to_be_visible()

    with same_page(phone), same_page(tablet):
        with laptop.expect_response(lambda r: r.url.endswith("/save")) as answer:
            cart_line(laptop, "DEMO-0061").get_by_test_id("line-save").click()
        assert answer.value.status == 200
        expect_lines(laptop, {"DEMO-0060": 1})
        expect(saved_line(laptop, "DEMO-0061")).to_be_visible()  # under the cart
        expect(saved_line(phone, "DEMO-0061")).to_contain_text("Quantity 2")
        expect(notice(phone)).to_contain_text("saved for later on another device")
        expect_lines(tablet, {"DEMO-0060": 1})
        expect(saved_line(tablet, "DEMO-0061")).to_be_visible()

        # Moved back from the phone's saved list: every page follows.
        saved_line(phone, "DEMO-0061").get_by_test_id("saved-move").click()
        expect(phone.get_by_test_id("saved-empty")).to_be_visible()
        expect(badge(phone)).to_have_text("3")
        expect_lines(tablet, {"DEMO-0060": 1, "DEMO-0061": 2})
        expect(saved_line(tablet, "DEMO-0061")).to_have_count(0)
    expect_lines(laptop, {"DEMO-0060": 1, "DEMO-0061": 2})
    expect(saved_line(laptop, "DEMO-0061")).to_have_count(0)
