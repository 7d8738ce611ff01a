"""A guest's cart outlives the browser context that made it, and the server process too."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.shop import add_to_cart, badge, cart_contents, cart_line, reload, subtotal


def test_guest_cart_survives_new_context_and_server_restart(new_device, restart_server):
    page = new_device()
    scarf = add_to_cart(page, "DEMO-0060", 1)
    sized = add_to_cart(page, "DEMO-0002", 2, size="M")
    engraved = add_to_cart(page, "DEMO-0012", 1, engraving="For Ada")
    before = cart_contents(page)
    assert before == {"DEMO-0060": 1, "DEMO-0002": 2, "DEMO-0012": 1}
    amount = subtotal(page)
    assert amount == scarf.price + sized.price * 2 + engraved.price
    expect(cart_line(page, "DEMO-0002")).to_contain_text("size: M")
    expect(cart_line(page, "DEMO-0012")).to_contain_text("engraving: For Ada")

    state = page.context.storage_state()
    page.context.close()

    # The same browser profile on a later visit: a new context with the saved cookies.
    later = new_device(storage_state=state)
    assert cart_contents(later) == before
    assert subtotal(later) == amount
    expect(badge(later)).to_have_text("4")
    expect(cart_line(later, "DEMO-0002")).to_contain_text("size: M")
    expect(cart_line(later, "DEMO-0012")).to_contain_text("engraving: For Ada")

    # The shop restarts (same database and keys): nothing is lost.
    restart_server()
    reload(later)
    expect(later.get_by_test_id("cart-line")).to_have_count(3)
    assert cart_contents(later) == before
    assert subtotal(later) == amount

    after_restart = new_device(storage_state=state)
    assert cart_contents(after_restart) == before
    expect(badge(after_restart)).to_have_text("4")
