"""Signing in brings the guest's cart along: lines add up, the shopper is told what happened,
and every device signed in to the account sees the same cart."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.shop import (
    add_to_cart,
    badge,
    cart_contents,
    cart_line,
    new_email,
    notice,
    register,
    sign_in,
    sign_out,
)


def session_cookie(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "storefront")


def test_guest_cart_merges_into_account_on_sign_in(new_device):
    email = new_email("merge")

    # Device 1: a new account with one T-shirt, then signed out.
    first = new_device()
    register(first, email)
    expect(notice(first)).to_contain_text("Welcome")
    add_to_cart(first, "DEMO-0031", 1)
    assert cart_contents(first) == {"DEMO-0031": 1}
    sign_out(first)
    assert cart_contents(first) == {}, "signing out must not leave the account's cart behind"

    # Device 2: a guest picks more of the same and something else, then signs in.
    guest = new_device()
    shirt = add_to_cart(guest, "DEMO-0031", 2)
    other = add_to_cart(guest, "DEMO-0032", 1)
    guest_state = guest.context.storage_state()
    guest_cookie = session_cookie(guest)
    sign_in(guest, email)
    assert session_cookie(guest) != guest_cookie, "signing in must replace the session cookie"

    # They land on their cart and are told, in words, what came along.
    expect(guest).to_have_url(re.compile(r"/cart$"))
    report = notice(guest)
    expect(report).to_contain_text("added")
    expect(report).to_contain_text(f"2 × {shirt.name}")
    expect(report).to_contain_text(f"1 × {other.name}")
    expect(cart_line(guest, "DEMO-0031").get_by_test_id("line-quantity")).to_have_value("3")
    expect(cart_line(guest, "DEMO-0032").get_by_test_id("line-quantity")).to_have_value("1")
    expect(badge(guest)).to_have_text("4")
    assert cart_contents(guest) == {"DEMO-0031": 3, "DEMO-0032": 1}

    # Another device signing in to the same account sees the same cart.
    second = new_device()
    sign_in(second, email)
    expect(badge(second)).to_have_text("4")
    assert cart_contents(second) == {"DEMO-0031": 3, "DEMO-0032": 1}

    # And so does the first device, once signed back in.
    sign_in(first, email)
    assert cart_contents(first) == {"DEMO-0031": 3, "DEMO-0032": 1}

    # The guest cookie from before sign-in no longer opens any cart.
    stale = new_device(storage_state=guest_state)
    assert cart_contents(stale) == {}
    expect(badge(stale)).to_have_text("0")


def test_registering_keeps_the_guest_cart(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0300", 2)
    add_to_cart(page, "DEMO-0013", 1, engraving="Mine")
    email = new_email("register")
    register(page, email)
    expect(badge(page)).to_have_text("3")
    assert cart_contents(page) == {"DEMO-0300": 2, "DEMO-0013": 1}

    # It is the account's cart now: another device signing in sees it.
    other = new_device()
    sign_in(other, email)
    assert cart_contents(other) == {"DEMO-0300": 2, "DEMO-0013": 1}


def test_merge_clamps_to_stock_and_says_what_was_kept(new_device):
    email = new_email("clamp")
    account = new_device()
    register(account, email)
    last = add_to_cart(account, "DEMO-1500", 2)  # stock is exactly 3
    assert cart_contents(account) == {"DEMO-1500": 2}

    guest = new_device()
    add_to_cart(guest, "DEMO-1500", 3)  # all 3 in stock: fine for the guest's own cart
    sign_in(guest, email)

    expect(cart_line(guest, "DEMO-1500").get_by_test_id("line-quantity")).to_have_value("3")
    expect(badge(guest)).to_have_text("3")
    report = notice(guest)
    expect(report).to_contain_text(f"{last.name}: kept 1 of 3")
    expect(report).to_contain_text("not enough in stock")
    assert cart_contents(guest) == {"DEMO-1500": 3}
    # The other device, still signed in, sees the clamped cart.
    assert cart_contents(account) == {"DEMO-1500": 3}
