"""A cart shared by two accounts, in real browsers: the owner invites, the other account
confirms, both (and the owner's second device) see every change live with who made it, and the
owner stops sharing. Every wait is on the DOM."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.shop import (
    add_to_cart,
    api_cart,
    expect_lines,
    line_quantity,
    new_email,
    notice,
    open_live,
    register,
    set_quantity,
    visit,
)

# A page whose cart changed hands reconnects with backoff before it fetches the other cart.
RECONNECT_MS = 30_000
SHARE_LINK = re.compile(r"^https?://[^/]+/share/[A-Za-z0-9_-]{40,}$")


def display_name(email: str) -> str:
    local = email.split("@")[0]
    return local[:1].upper() + local[1:]


def invite(page) -> str:
    """On the open cart page: the link takes the panel's place."""
    page.get_by_test_id("share-invite").click()
    link = page.get_by_test_id("share-link")
    expect(link).to_have_value(SHARE_LINK)
    return link.input_value()


def test_two_accounts_share_one_cart_live_and_the_owner_stops(new_device):
    owner, member = new_device(), new_device()
    owner_email, member_email = new_email("sam"), new_email("alex")
    register(owner, owner_email)
    add_to_cart(owner, "DEMO-0100", 2)
    register(member, member_email)
    add_to_cart(member, "DEMO-0200", 1)  # the member's own cart, kept aside while sharing
    owner_phone = new_device(storage_state=owner.context.storage_state())
    open_live(owner, "/cart")
    open_live(owner_phone, "/cart")
    link = invite(owner)

    # Opening the link asks first; confirming joins.
    visit(member, link)
    expect(member.get_by_role("heading", level=1)).to_have_text("Share a cart")
    member.get_by_test_id("share-accept").click()
    expect(member.get_by_test_id("share-status")).to_contain_text(display_name(owner_email))
    expect_lines(member, {"DEMO-0100": 2})
    name = api_cart(owner)["lines"][0]["name"]
    # The owner's open pages learn of it without a reload.
    for page in (owner, owner_phone):
        expect(page.get_by_test_id("share-status")).to_contain_text(display_name(member_email))
        expect(notice(page)).to_contain_text("accepted your invitation")
    open_live(member, "/cart")

    # The member's change reaches both of the owner's devices, saying who made it.
    set_quantity(member, "DEMO-0100", 3)
    for page in (owner, owner_phone):
        expect(line_quantity(page, "DEMO-0100")).to_have_value("3")
        expect(notice(page)).to_contain_text(f"{display_name(member_email)} changed {name} to 3")

    # And the owner's change reaches the member, named too.
    set_quantity(owner_phone, "DEMO-0100", 5)
    expect(line_quantity(member, "DEMO-0100")).to_have_value("5")
    expect(notice(member)).to_contain_text(f"{display_name(owner_email)} changed {name} to 5")
    expect(line_quantity(owner, "DEMO-0100")).to_have_value("5")

    visit(owner, "/cart/history")
    expect(owner.get_by_test_id("history-by").first).to_have_text("by You")
    expect(owner.get_by_test_id("history-by").nth(1)).to_have_text(
        f"by {display_name(member_email)}"
    )

    # The owner stops sharing (from the phone): the member's open page gets their own cart
    # back by itself, and every page's panel says so.
    owner_phone.get_by_test_id("share-stop").click()
    expect(owner_phone.get_by_test_id("share-invite")).to_be_visible()
    expect_lines(owner_phone, {"DEMO-0100": 5})
    expect_lines(member, {"DEMO-0200": 1}, timeout=RECONNECT_MS)
    expect(member.get_by_test_id("share-invite")).to_be_visible()
    visit(owner, "/cart")
    expect(owner.get_by_test_id("share-invite")).to_be_visible()


def test_the_link_does_not_work_twice_or_for_its_owner(new_device):
    owner, member, third = new_device(), new_device(), new_device()
    register(owner, new_email("sam"))
    add_to_cart(owner, "DEMO-0100", 1)
    visit(owner, "/cart")
    link = invite(owner)
    visit(owner, link, status=409)
    expect(owner.get_by_test_id("share-refusal")).to_contain_text("your own cart")
    register(member, new_email("alex"))
    visit(member, link)
    member.get_by_test_id("share-accept").click()
    expect(member.get_by_test_id("share-status")).to_be_visible()
    register(third, new_email("kim"))
    visit(third, link, status=410)
    expect(third.get_by_test_id("share-refusal")).to_contain_text("already used")
