"""Live sync between a shopper's open pages: every change reaches the other pages over /ws
without a reload, and only that shopper's pages.

Devices are browser contexts; "the same shopper" on two devices is a second context made from
the first one's storage state (the same cookie), or two contexts signed in to one account.
Every wait is on the page's DOM (``expect``), never on a clock.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from e2e.shop import (
    ELSEWHERE,
    SocketTap,
    add_to_cart,
    api_add,
    api_cart,
    api_contents,
    api_history,
    badge,
    cart_line,
    clear_cart,
    count_pushes,
    expect_lines,
    line_quantity,
    new_email,
    notice,
    notices_seen,
    open_live,
    open_product,
    pushes_handled,
    pushes_received,
    record_notices,
    register,
    remove_line,
    same_page,
    set_quantity,
    shown_contents,
    sign_in,
    subtotal,
    sync_status,
    visit,
    wait_connected,
    wait_pushes_handled,
)

# The page reconnects with backoff (up to a few seconds per try) while the server restarts.
RECONNECT_MS = 30_000


def add_here(page, quantity: int) -> None:
    """Add from the product page that is open (no navigation), and wait for the badge."""
    before = int(badge(page).inner_text())
    page.get_by_test_id("add-quantity").fill(str(quantity))
    page.get_by_test_id("add-to-cart").click()
    expect(badge(page)).to_have_text(str(before + quantity))


def assert_not_told(page, text: str) -> None:
    """The page never showed ``text`` in its notice since recording began. Call it after the
    page has shown something pushed *later* than its own change: one socket delivers in order,
    so the echo of the page's own change has been handled by then."""
    seen = notices_seen(page)
    assert not [n for n in seen if text in n], f"the acting page was told {text!r}: {seen}"


def test_changes_reach_the_other_device_both_ways_without_reload(new_device):
    a = new_device()
    mug = add_to_cart(a, "DEMO-0101", 1)
    b = new_device(storage_state=a.context.storage_state())  # same shopper, second device

    open_live(b, "/cart")
    expect_lines(b, {"DEMO-0101": 1})
    shirt = open_product(a, "DEMO-0102")
    wait_connected(a)
    record_notices(a)

    with same_page(a), same_page(b):
        # A adds on a product page: B's open cart grows a line, and its badge follows.
        add_here(a, 2)
        expect_lines(b, {"DEMO-0101": 1, "DEMO-0102": 2})
        expect(notice(b)).to_contain_text(f"2 × {shirt.name} added {ELSEWHERE}")
        expect(notice(a)).to_contain_text(f"Added 2 × {shirt.name}")
        assert subtotal(b) == mug.price + shirt.price * 2

        # B changes a quantity: A's product page hears of it (badge and notice).
        set_quantity(b, "DEMO-0101", 4)
        expect(badge(a)).to_have_text("6")
        expect(notice(a)).to_contain_text(f"{mug.name} set to 4 {ELSEWHERE}")
        expect(notice(b)).to_contain_text(f"{mug.name}: quantity now 4")
    assert_not_told(a, f"{shirt.name} added {ELSEWHERE}")

    open_live(a, "/cart")
    expect_lines(a, {"DEMO-0101": 4, "DEMO-0102": 2})
    with same_page(a), same_page(b):
        # A removes a line: it disappears from B.
        remove_line(a, "DEMO-0102")
        expect_lines(b, {"DEMO-0101": 4})
        expect(notice(b)).to_contain_text(f"{shirt.name} removed {ELSEWHERE}")
        assert subtotal(b) == mug.price * 4
    assert_not_told(b, f"{mug.name} set to 4 {ELSEWHERE}")

    scarf = open_product(b, "DEMO-0103")
    wait_connected(b)
    record_notices(b)
    with same_page(a), same_page(b):
        # B adds: A's open cart grows the line.
        add_here(b, 1)
        expect_lines(a, {"DEMO-0101": 4, "DEMO-0103": 1})
        expect(notice(a)).to_contain_text(f"1 × {scarf.name} added {ELSEWHERE}")
        # A changes that line's quantity: B's product page badge follows.
        set_quantity(a, "DEMO-0103", 2)
        expect(badge(b)).to_have_text("6")
        expect(notice(b)).to_contain_text(f"{scarf.name} set to 2 {ELSEWHERE}")
    assert_not_told(a, f"{shirt.name} removed {ELSEWHERE}")
    assert_not_told(b, f"{scarf.name} added {ELSEWHERE}")

    open_live(b, "/cart")
    expect_lines(b, {"DEMO-0101": 4, "DEMO-0103": 2})
    with same_page(a), same_page(b):
        # B empties the cart: A's page empties.
        clear_cart(b)
        expect_lines(a, {})
        expect(notice(a)).to_contain_text(f"The cart was emptied {ELSEWHERE}")
        assert subtotal(a) == 0
        expect(notice(b)).to_contain_text("The cart was emptied")
        # Changes from elsewhere (the API, no page): both pages show them.
        api_add(a, "DEMO-0104", 1)
        api_add(a, "DEMO-0105", 3)
        expect_lines(a, {"DEMO-0104": 1, "DEMO-0105": 3})
        expect_lines(b, {"DEMO-0104": 1, "DEMO-0105": 3})
    assert_not_told(a, f"{scarf.name} set to 2 {ELSEWHERE}")
    assert_not_told(b, f"emptied {ELSEWHERE}")

    record_notices(a)
    record_notices(b)
    with same_page(a), same_page(b):
        # The other way round: B removes a line, A empties the cart.
        remove_line(b, "DEMO-0105")
        expect_lines(a, {"DEMO-0104": 1})
        expect(notice(a)).to_contain_text(f"removed {ELSEWHERE}")
        clear_cart(a)
        expect_lines(b, {})
        expect(notice(b)).to_contain_text(f"The cart was emptied {ELSEWHERE}")
        api_add(a, "DEMO-0106", 1)
        expect_lines(a, {"DEMO-0106": 1})
        expect_lines(b, {"DEMO-0106": 1})
    assert_not_told(b, f"removed {ELSEWHERE}")
    assert_not_told(a, f"emptied {ELSEWHERE}")
    assert api_contents(b) == {"DEMO-0106": 1}


def test_a_change_of_values_elsewhere_is_patched_in_place_and_a_new_line_goes_through_htmx(
    new_device,
):
    """in-place.js: a push whose pieces changed only in words and values (a quantity, the
    totals, the badge, the notice) is patched where they stand, without htmx's out-of-band
    swaps; a push that brings a new line still goes through htmx. Both end up on the page."""
    a = new_device()
    add_to_cart(a, "DEMO-0121", 1)
    b = new_device(storage_state=a.context.storage_state())
    open_live(a, "/cart")
    open_live(b, "/cart")
    b.evaluate(
        """() => {
          window.__e2eOobSwaps = 0;
          document.addEventListener('htmx:oobAfterSwap', () => { window.__e2eOobSwaps += 1; });
        }"""
    )
    row = cart_line(b, "DEMO-0121").element_handle()
    with same_page(a), same_page(b):
        set_quantity(a, "DEMO-0121", 3)
        expect(line_quantity(b, "DEMO-0121")).to_have_value("3")
        expect(badge(b)).to_have_text("3")
        expect(notice(b)).to_contain_text(f"set to 3 {ELSEWHERE}")
        assert b.evaluate("() => window.__e2eOobSwaps") == 0  # no htmx swap: patched in place
        assert row.evaluate("line => line.isConnected")  # the very row, now saying 3
        api_add(a, "DEMO-0122", 2)
        expect_lines(b, {"DEMO-0121": 3, "DEMO-0122": 2})
        expect(badge(b)).to_have_text("5")
        assert b.evaluate("() => window.__e2eOobSwaps") > 0  # a new line: htmx's swaps


def test_two_tabs_of_one_guest_stay_in_step(new_device):
    first = new_device()
    add_to_cart(first, "DEMO-0111", 1)
    second = first.context.new_page()  # same browser, second tab
    open_live(first, "/cart")
    open_live(second, "/cart")
    expect_lines(second, {"DEMO-0111": 1})

    with same_page(first), same_page(second):
        set_quantity(first, "DEMO-0111", 3)
        expect_lines(second, {"DEMO-0111": 3})
        set_quantity(second, "DEMO-0111", 5)
        expect_lines(first, {"DEMO-0111": 5})
        api_add(first, "DEMO-0112", 2)
        expect_lines(first, {"DEMO-0111": 5, "DEMO-0112": 2})
        expect_lines(second, {"DEMO-0111": 5, "DEMO-0112": 2})
        remove_line(second, "DEMO-0111")
        expect_lines(first, {"DEMO-0112": 2})
        expect(line_quantity(first, "DEMO-0112")).to_have_value("2")
    assert api_contents(first) == {"DEMO-0112": 2}


def test_own_change_is_not_news_to_its_page_even_when_the_push_beats_the_response(new_device):
    """The page that made a change hears its own push too; whether that push or the response
    arrives first, the page shows its own words (never "on another device") and moves to the
    version it produced, so the next change from elsewhere applies directly (with its notice)."""
    page = new_device()
    pot = add_to_cart(page, "DEMO-0121", 1)
    open_live(page, "/cart")
    page.evaluate(
        """() => {
          window.__e2eEcho = false;
          const me = document.body.dataset.pageId;
          document.addEventListener('htmx:wsBeforeMessage', (e) => {
            if (e.detail.message.includes(`data-origin-page="${me}"`)) window.__e2eEcho = true;
          });
        }"""
    )

    def hold_until_pushed(route):
        answer = route.fetch()  # the change is made and published...
        page.wait_for_function("() => window.__e2eEcho")  # ...its push arrives first...
        route.fulfill(response=answer)  # ...and only then the response.

    page.route("**/cart/lines/*", hold_until_pushed)
    with same_page(page):
        set_quantity(page, "DEMO-0121", 2)
        expect_lines(page, {"DEMO-0121": 2})
        expect(notice(page)).to_contain_text(f"{pot.name}: quantity now 2")
        expect(page.locator("#cart-state")).to_have_attribute(
            "data-cart-version", str(api_cart(page)["version"])
        )
        api_add(page, "DEMO-0122", 1)  # from elsewhere: arrives as an event, not a resync
        expect_lines(page, {"DEMO-0121": 2, "DEMO-0122": 1})
        expect(notice(page)).to_contain_text(f"added {ELSEWHERE}")
    assert_not_told(page, f"{pot.name} set to 2 {ELSEWHERE}")


def test_sign_in_merge_reaches_the_accounts_other_open_device(new_device):
    email = new_email("live-merge")
    account = new_device()
    register(account, email)
    tea = add_to_cart(account, "DEMO-0131", 1)
    open_live(account, "/cart")
    expect_lines(account, {"DEMO-0131": 1})

    guest = new_device()
    add_to_cart(guest, "DEMO-0131", 2)
    honey = add_to_cart(guest, "DEMO-0132", 1)
    with same_page(account):
        sign_in(guest, email)
        # The account's open cart shows the merged lines, without a reload.
        expect_lines(account, {"DEMO-0131": 3, "DEMO-0132": 1})
        assert subtotal(account) == tea.price * 3 + honey.price
    expect_lines(guest, {"DEMO-0131": 3, "DEMO-0132": 1})
    assert api_contents(account) == {"DEMO-0131": 3, "DEMO-0132": 1}


def test_a_page_keeps_its_socket_when_the_guest_cart_comes_into_being(new_device):
    """A new guest's page connects before there is any cart; when another tab makes the first
    add, the cart it hears of is still the cart its socket listens for: no reconnecting."""
    first = new_device()
    sockets = []
    first.on("websocket", lambda ws: sockets.append(ws))
    open_live(first, "/cart")
    expect_lines(first, {})
    second = first.context.new_page()
    open_product(second, "DEMO-0124")
    wait_connected(second)

    with same_page(first):
        add_here(second, 1)
        expect_lines(first, {"DEMO-0124": 1})
        with first.expect_response(lambda r: "/cart/sync" in r.url):
            first.evaluate("() => window.dispatchEvent(new Event('focus'))")
        add_here(second, 2)  # pushed on the same socket, after anything the resync set off
        expect_lines(first, {"DEMO-0124": 3})
    assert len(sockets) == 1 and not sockets[0].is_closed(), "the page reconnected needlessly"


def test_another_shoppers_open_page_receives_nothing(new_device):
    me = new_device()
    add_to_cart(me, "DEMO-0141", 1)
    open_live(me, "/cart")

    stranger = new_device()
    add_to_cart(stranger, "DEMO-0142", 2)
    open_live(stranger, "/cart")
    count_pushes(stranger)

    with same_page(stranger):
        set_quantity(me, "DEMO-0141", 3)
        api_add(me, "DEMO-0143", 1)
        remove_line(me, "DEMO-0141")
        expect_lines(me, {"DEMO-0143": 1})
        clear_cart(me)
        expect_lines(me, {})

        # The stranger's page is live: a change of theirs from elsewhere reaches it. One socket
        # delivers in order, so anything of the first shopper's would have come before.
        api_add(stranger, "DEMO-0144", 1)
        expect_lines(stranger, {"DEMO-0142": 2, "DEMO-0144": 1})
        expect(notice(stranger)).to_contain_text(f"added {ELSEWHERE}")
    assert pushes_received(stranger) == 1, "the stranger's page was sent another shopper's events"
    assert len(notices_seen(stranger)) == 1, notices_seen(stranger)
    assert api_contents(stranger) == {"DEMO-0142": 2, "DEMO-0144": 1}
    assert api_contents(me) == {}


def version(page) -> int:
    """The cart's version: it rises by one with every change the server applies."""
    return api_cart(page)["version"]


def change_keys(request) -> list[str]:
    if request.method != "POST" or not request.post_data:
        return []
    return parse_qs(request.post_data).get("idempotency_key", [])


def test_offline_changes_wait_and_are_sent_once_when_back_online(new_device):
    cart_tab = new_device()
    kettle = add_to_cart(cart_tab, "DEMO-0151", 1)
    product_tab = cart_tab.context.new_page()
    lamp = open_product(product_tab, "DEMO-0152")
    wait_connected(product_tab)
    open_live(cart_tab, "/cart")
    before = version(cart_tab)

    context = cart_tab.context
    context.set_offline(True)
    with same_page(cart_tab), same_page(product_tab):
        for page in (cart_tab, product_tab):
            expect(sync_status(page)).to_have_attribute("data-state", "offline")
            expect(sync_status(page)).to_contain_text("offline")
        # Change 1: a quantity on /cart. Change 2: an add on the product page (another tab).
        field = line_quantity(cart_tab, "DEMO-0151")
        field.fill("3")
        field.press("Enter")
        expect(sync_status(cart_tab)).to_contain_text("1 change waiting to be sent")
        product_tab.get_by_test_id("add-quantity").fill("2")
        product_tab.get_by_test_id("add-to-cart").click()
        for page in (cart_tab, product_tab):
            expect(sync_status(page)).to_have_attribute("data-pending", "2")
            expect(sync_status(page)).to_contain_text("2 changes waiting to be sent")
        expect(notice(product_tab)).to_contain_text("offline")

        sent: list[str] = []  # the idempotency key of every change that left either tab
        context.on("request", lambda request: sent.extend(change_keys(request)))
        context.set_offline(False)
        for page in (cart_tab, product_tab):
            expect(sync_status(page)).to_have_attribute("data-pending", "0")
            wait_connected(page)
            expect(sync_status(page)).not_to_contain_text("waiting")
        expect_lines(cart_tab, {"DEMO-0151": 3, "DEMO-0152": 2})
        expect(badge(product_tab)).to_have_text("5")
    # Both tabs came back online with the same queue; one of them sent it, each change once.
    assert len(sent) == 2 and len(set(sent)) == 2, sent
    # Applied exactly once each, in the order they were made.
    assert api_contents(cart_tab) == {"DEMO-0151": 3, "DEMO-0152": 2}
    assert version(cart_tab) == before + 2
    newest, previous = api_history(cart_tab, limit=2)
    assert kettle.name in previous["summary"] and lamp.name in newest["summary"], (previous, newest)
    assert subtotal(cart_tab) == kettle.price * 3 + lamp.price * 2


def test_a_change_whose_answer_was_lost_is_not_applied_twice(new_device):
    page = new_device()
    open_product(page, "DEMO-0153")
    wait_connected(page)
    other = new_device(storage_state=page.context.storage_state())
    lost: list[int] = []

    def lose_the_answer(route):
        answer = route.fetch()  # the server makes the change...
        lost.append(answer.status)
        page.context.set_offline(True)  # ...and the connection drops before the answer arrives
        route.abort("internetdisconnected")

    page.route("**/cart/lines", lose_the_answer)
    with same_page(page):
        page.get_by_test_id("add-quantity").fill("2")
        page.get_by_test_id("add-to-cart").click()
        expect(sync_status(page)).to_have_attribute("data-pending", "1")
        assert lost == [200]
        assert api_contents(other) == {"DEMO-0153": 2}

        page.unroute("**/cart/lines")
        page.context.set_offline(False)  # the queued copy goes out under the same key
        expect(sync_status(page)).to_have_attribute("data-pending", "0")
        expect(badge(page)).to_have_text("2")
    assert api_contents(other) == {"DEMO-0153": 2}, "the replay added the same 2 again"
    assert version(other) == 1


def test_the_answer_to_a_replayed_change_brings_the_page_up_to_date(new_device):
    """The replay of a change the server already made is answered with that change's result
    (nothing happens twice); the page must still end up showing it, even if it never heard
    of the change otherwise."""
    page = new_device()
    jug = add_to_cart(page, "DEMO-0154", 1)
    add_to_cart(page, "DEMO-0155", 1)
    tap = SocketTap(page.context)
    open_live(page, "/cart")

    def lose_the_answer(route):
        route.fetch()  # the server makes the change...
        page.context.set_offline(True)  # ...and the connection drops before the answer arrives
        route.abort("internetdisconnected")

    page.route("**/remove", lose_the_answer)
    with same_page(page):
        tap.hold_next(1)  # and the push of the change is slow to arrive
        cart_line(page, "DEMO-0155").get_by_test_id("line-remove").click()
        expect(sync_status(page)).to_have_attribute("data-pending", "1")
        page.unroute("**/remove")
        page.context.set_offline(False)  # the replay is answered with the first result
        expect(sync_status(page)).to_have_attribute("data-pending", "0")
        expect_lines(page, {"DEMO-0154": 1})
        assert subtotal(page) == jug.price
        assert tap.release() == 1  # the push turns up at last: old news
        set_quantity(page, "DEMO-0154", 5)
        expect_lines(page, {"DEMO-0154": 5})
    assert api_contents(page) == {"DEMO-0154": 5}
    assert version(page) == 4


def test_a_blocked_socket_still_converges_on_focus(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0161", 1)
    other = new_device(storage_state=page.context.storage_state())
    # Nothing live gets through for this device: every socket is turned away, and so is every
    # fallback (Server-Sent Events and polls, e2e/test_fallback.py).
    page.context.route_web_socket(re.compile(r"/ws$"), lambda ws: ws.close(code=1013))
    page.context.route(re.compile(r"/live/(events|poll)"), lambda route: route.abort())
    visit(page, "/cart")
    expect_lines(page, {"DEMO-0161": 1})
    expect(sync_status(page)).not_to_have_attribute("data-state", "connected")

    visit(other, "/cart")
    set_quantity(other, "DEMO-0161", 4)
    assert api_contents(page) == {"DEMO-0161": 4}
    assert shown_contents(page) == {"DEMO-0161": 1}  # no push can reach it

    with same_page(page):
        page.evaluate("() => window.dispatchEvent(new Event('focus'))")
        expect_lines(page, {"DEMO-0161": 4})

        api_add(other, "DEMO-0162", 2)
        assert shown_contents(page) == {"DEMO-0161": 4}
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        expect_lines(page, {"DEMO-0161": 4, "DEMO-0162": 2})
    expect(page.locator("#cart-state")).to_have_attribute(
        "data-cart-version", str(api_cart(other)["version"])
    )


def test_a_late_older_event_does_not_roll_the_page_back(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0171", 1)
    other = new_device(storage_state=page.context.storage_state())
    tap = SocketTap(page.context)
    open_live(page, "/cart")
    count_pushes(page)
    visit(other, "/cart")

    with same_page(page):
        tap.hold_next(1)
        set_quantity(other, "DEMO-0171", 2)  # version 2: held back on the way to the page
        set_quantity(other, "DEMO-0171", 5)  # version 3: arrives first
        expect_lines(page, {"DEMO-0171": 5})
        expect(page.locator("#cart-state")).to_have_attribute("data-cart-version", "3")

        handled = pushes_handled(page)
        assert tap.release() == 1  # version 2 turns up late
        wait_pushes_handled(page, handled + 1)
        assert shown_contents(page) == {"DEMO-0171": 5}, "a late event rolled the page back"
        expect(badge(page)).to_have_text("5")
        expect(page.locator("#cart-state")).to_have_attribute("data-cart-version", "3")

        # And the page still follows what comes next.
        set_quantity(other, "DEMO-0171", 6)
        expect_lines(page, {"DEMO-0171": 6})


def test_keep_mine_puts_back_a_quantity_another_device_overrode(new_device):
    a = new_device()
    cup = add_to_cart(a, "DEMO-0181", 1)
    b = new_device(storage_state=a.context.storage_state())
    tap = SocketTap(b.context)
    open_live(a, "/cart")
    open_live(b, "/cart")

    with same_page(a), same_page(b):
        tap.hold_next(1)  # B does not hear of A's change in time...
        set_quantity(a, "DEMO-0181", 3)
        assert shown_contents(b) == {"DEMO-0181": 1}
        set_quantity(b, "DEMO-0181", 7)  # ...and sets the same line, not having seen A's 3.

        expect_lines(a, {"DEMO-0181": 7})
        expect(notice(a)).to_contain_text(
            f"{cup.name}: your quantity 3 was replaced by 7 from another device"
        )
        keep = a.get_by_test_id("keep-mine")
        expect(keep).to_have_text("Keep mine (3)")
        tap.release()  # A's old change reaches B late: old news there

        keep.click()
        expect_lines(a, {"DEMO-0181": 3})
        expect_lines(b, {"DEMO-0181": 3})
        expect(notice(b)).to_contain_text(f"{cup.name} set to 3 {ELSEWHERE}")
    # B was not offered "keep mine" back: A had seen B's 7 when it chose 3 again.
    expect(b.get_by_test_id("keep-mine")).to_have_count(0)
    assert api_contents(b) == {"DEMO-0181": 3}


@pytest.mark.parametrize("way", ["push", "resync"])
def test_a_quantity_being_typed_survives_its_line_being_replaced(new_device, way):
    """A shopper typing a new quantity when another device's change to that line arrives,
    pushed or fetched by a resync (the catalog refresh after a reconnect goes that way, where
    CI saw the old value come back mid-typing and Enter send it): the line's total follows the
    other device, what they are typing stays under their fingers, with the focus."""
    sku = {"push": "DEMO-0182", "resync": "DEMO-0183"}[way]
    a = new_device()
    cup = add_to_cart(a, sku, 1)
    b = new_device(storage_state=a.context.storage_state())
    tap = SocketTap(a.context)
    open_live(a, "/cart")
    open_live(b, "/cart")

    with same_page(a), same_page(b):
        field = line_quantity(a, sku)
        field.fill("4")  # typed, not sent
        if way == "resync":
            tap.hold_next(1)  # A does not hear of B's change...
        set_quantity(b, sku, 3)
        if way == "resync":
            a.evaluate("window.dispatchEvent(new Event('focus'))")  # ...and catches up
        expect(cart_line(a, sku).locator(".line-total")).to_contain_text(f"{cup.price * 3:,.2f}")
        expect(field).to_have_value("4")
        expect(field).to_be_focused()
        tap.release()  # (resync) B's change, late: old news
        field.press("Enter")
        expect_lines(b, {sku: 4})
        expect_lines(a, {sku: 4})
    assert api_contents(a) == {sku: 4}


def test_keyboard_focus_in_a_line_stays_when_another_device_changes_it(new_device):
    """A keyboard shopper on a line's Remove button keeps their place while another device
    changes that line's quantity, twice: the line is brought up to date where it stands (its
    figures and its quantity), not replaced under them, and the button still works."""
    sku = "DEMO-0184"
    a = new_device()
    cup = add_to_cart(a, sku, 1)
    b = new_device(storage_state=a.context.storage_state())
    open_live(a, "/cart")
    open_live(b, "/cart")

    with same_page(a), same_page(b):
        remove = cart_line(a, sku).get_by_test_id("line-remove")
        remove.focus()
        for quantity in (3, 5):
            set_quantity(b, sku, quantity)
            expect(cart_line(a, sku).locator(".line-total")).to_contain_text(
                f"{cup.price * quantity:,.2f}"
            )
            expect(line_quantity(a, sku)).to_have_value(str(quantity))
            expect(remove).to_be_focused()
        remove.press("Enter")
        expect_lines(a, {})
        expect_lines(b, {})
    assert api_contents(b) == {}


def test_a_tab_with_a_stale_security_token_recovers(new_device):
    email = new_email("stale-token")
    owner = new_device()
    register(owner, email)
    add_to_cart(owner, "DEMO-0191", 1)

    first = new_device()
    add_to_cart(first, "DEMO-0192", 2)
    second = first.context.new_page()
    tap = SocketTap(second)
    open_live(second, "/cart")
    expect_lines(second, {"DEMO-0192": 2})
    answers: list[int] = []
    second.on(
        "response",
        lambda r: (
            answers.append(r.status)
            if r.request.method == "POST" and "/cart/lines/" in r.url
            else None
        ),
    )
    # The server closes this tab's socket at sign-in; here the close is lost on the way, so the
    # tab neither reconnects nor hears a hello that would refresh its token: it still listens
    # as the guest, and its token is stale.
    tap.lose_closes = True

    sign_in(first, email)  # the session (and its token) changes under the second tab
    expect_lines(first, {"DEMO-0191": 1, "DEMO-0192": 2})
    opened_before = tap.connections

    with same_page(second):
        field = line_quantity(second, "DEMO-0192")
        field.fill("5")
        # Refused once for the old token, then sent again with a fresh one: it goes through,
        # and the tab now shows the account's cart. (The page may show it before Playwright
        # reports the retry's answer, so wait for that answer itself.)
        with second.expect_response(
            lambda r: r.request.method == "POST" and "/cart/lines/" in r.url and r.status == 200
        ):
            field.press("Enter")
        expect_lines(second, {"DEMO-0191": 1, "DEMO-0192": 5})
        assert answers == [403, 200], answers

        # It found out who it is now and connected again, as the account: a change on the
        # account's other device reaches it.
        api_add(owner, "DEMO-0193", 1)
        expect_lines(second, {"DEMO-0191": 1, "DEMO-0192": 5, "DEMO-0193": 1})
        wait_connected(second)
    assert tap.connections > opened_before
    assert api_contents(owner) == {"DEMO-0191": 1, "DEMO-0192": 5, "DEMO-0193": 1}


def test_status_says_connected_and_the_page_reconnects_after_a_restart(new_device, restart_server):
    page = new_device()
    add_to_cart(page, "DEMO-0201", 1)
    other = new_device(storage_state=page.context.storage_state())
    visit(page, "/cart")
    status = sync_status(page)
    expect(status).to_have_attribute("data-state", "connected")
    expect(status).to_have_text(re.compile(r"^\s*Live sync: connected\s*$"))
    expect(status).to_be_visible()
    page.evaluate(
        """() => {
          const el = document.getElementById('sync-status');
          window.__e2eStates = [];
          new MutationObserver(() => window.__e2eStates.push(el.dataset.state))
            .observe(el, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )

    with same_page(page):
        restart_server()
        # The socket was closed (1012) and the page connected again by itself.
        page.wait_for_function(
            "() => window.__e2eStates.includes('connecting') && "
            "window.__e2eStates.at(-1) === 'connected'",
            timeout=RECONNECT_MS,
        )
        wait_connected(page)

        visit(other, "/cart")
        set_quantity(other, "DEMO-0201", 4)
        expect_lines(page, {"DEMO-0201": 4})
        expect(notice(page)).to_contain_text(f"set to 4 {ELSEWHERE}")
