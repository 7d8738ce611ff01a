"""Live sync where WebSockets are blocked: the page falls back by itself to Server-Sent
Events, or to long polls when those are blocked too, says so ("Connected (fallback)"), hears
the same changes as over /ws, and goes back to the socket once it gets through. Plus the sync
controls: "Sync now" and when the page last synced, in words.

The blocking is Playwright's routing (``SocketBlock`` in e2e/shop.py): the page's own script
is what is tested, never told what to do. Every wait is on the page's DOM.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from e2e.shop import (
    ELSEWHERE,
    SocketBlock,
    add_to_cart,
    api_add,
    expect_lines,
    notice,
    open_live,
    same_page,
    set_quantity,
    shown_contents,
    sync_status,
    visit,
    wait_connected,
    wait_fallback,
)
from e2e.test_accessibility import assert_accessible


def requests_to(page, path: str) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if path in r.url else None)
    return seen


def test_a_blocked_socket_falls_back_to_server_sent_events(new_device, axe_source):
    a = new_device()
    mug = add_to_cart(a, "DEMO-0401", 1)
    # The same shopper on another device (axe is injected as a script the CSP would block).
    b = new_device(storage_state=a.context.storage_state(), bypass_csp=True)
    block = SocketBlock(b.context)
    streams = requests_to(b, "/live/events")
    open_live(a, "/cart")
    visit(b, "/cart")
    wait_fallback(b)  # within 15 s of the page opening
    assert block.turned_away >= 3 and streams
    expect(b.get_by_test_id("sync-last")).to_have_text("Synced just now")

    with same_page(a), same_page(b):
        set_quantity(a, "DEMO-0401", 3)
        expect_lines(b, {"DEMO-0401": 3})
        expect(notice(b)).to_contain_text(f"{mug.name} set to 3 {ELSEWHERE}")
        api_add(a, "DEMO-0402", 2)
        expect_lines(b, {"DEMO-0401": 3, "DEMO-0402": 2})
        # And the other way: B's own change reaches A, B shows it at once.
        set_quantity(b, "DEMO-0402", 5)
        expect_lines(a, {"DEMO-0401": 3, "DEMO-0402": 5})
        expect_lines(b, {"DEMO-0401": 3, "DEMO-0402": 5})
        expect(sync_status(b)).to_have_attribute("data-state", "fallback")
    assert not [url for url in requests_to(b, "/live/poll")], "SSE worked: no need to poll"
    assert_accessible(b, axe_source)


def test_when_event_streams_are_blocked_too_the_page_polls(new_device):
    a = new_device()
    add_to_cart(a, "DEMO-0411", 1)
    b = new_device(storage_state=a.context.storage_state())
    block = SocketBlock(b.context)
    block.block_streams()
    polls = requests_to(b, "/live/poll")
    open_live(a, "/cart")
    visit(b, "/cart")
    wait_fallback(b, timeout=20_000)  # three sockets, then two streams, turned away first
    assert polls

    with same_page(b):
        set_quantity(a, "DEMO-0411", 4)
        expect_lines(b, {"DEMO-0411": 4})
        api_add(a, "DEMO-0412", 1)
        expect_lines(b, {"DEMO-0411": 4, "DEMO-0412": 1})
        set_quantity(b, "DEMO-0412", 2)
        expect_lines(a, {"DEMO-0411": 4, "DEMO-0412": 2})


def test_the_page_goes_back_to_the_socket_once_it_gets_through(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0421", 1)
    other = new_device(storage_state=page.context.storage_state())
    block = SocketBlock(page.context)
    visit(page, "/cart")
    wait_fallback(page)

    with same_page(page):
        block.blocked = False  # the network lets sockets through again
        page.get_by_test_id("sync-now").click()  # tries the socket at once, not in 20-40 s
        wait_connected(page)
        expect(sync_status(page)).to_have_text(re.compile(r"^\s*Live sync: connected\s*$"))
        visit(other, "/cart")
        set_quantity(other, "DEMO-0421", 6)
        expect_lines(page, {"DEMO-0421": 6})
        expect(notice(page)).to_contain_text(f"set to 6 {ELSEWHERE}")


def test_sync_now_brings_the_cart_when_nothing_live_gets_through(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0431", 1)
    other = new_device(storage_state=page.context.storage_state())
    block = SocketBlock(page.context)
    block.block_streams()
    page.route("**/live/poll*", lambda route: route.abort("connectionrefused"))
    page.clock.install()
    visit(page, "/cart")
    last = page.get_by_test_id("sync-last")
    expect(last).to_have_text("Synced just now")
    expect(page.get_by_test_id("sync-now")).to_be_visible()

    visit(other, "/cart")
    set_quantity(other, "DEMO-0431", 3)
    with same_page(page):
        page.clock.fast_forward("02:10")  # two minutes without hearing from the shop
        expect(last).to_have_text("Synced 2 minutes ago")
        assert shown_contents(page) == {"DEMO-0431": 1}
        expect(sync_status(page)).not_to_have_attribute("data-state", "connected")

        page.get_by_test_id("sync-now").click()
        expect_lines(page, {"DEMO-0431": 3})
        expect(last).to_have_text("Synced just now")
        page.clock.fast_forward(61 * 60_000)
        expect(last).to_have_text("Synced 1 hour ago")
    assert_accessible(page, axe_source)


def test_sync_now_says_so_when_the_device_is_offline(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0441", 1)
    open_live(page, "/cart")
    page.context.set_offline(True)
    with same_page(page):
        expect(sync_status(page)).to_have_attribute("data-state", "offline")
        button = page.get_by_test_id("sync-now")
        button.focus()
        page.keyboard.press("Enter")  # the keyboard works as well as a click
        expect(notice(page)).to_contain_text("Could not sync: this device is offline")
        expect(button).to_be_enabled()
        page.context.set_offline(False)
        wait_connected(page)
