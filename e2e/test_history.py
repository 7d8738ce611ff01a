"""The cart's timeline and what hangs off it: restore (from the history page, from the merge
notice, with the keyboard), restores reaching the shopper's other open pages, the guest cart's
expiry notice, the signed-in idle-timeout warning, and the support page's access and
accessibility.

Every wait is on the page (``expect``), never on a clock; the idle timeout is reached with
Playwright's fake clock in the browser (the server's own timeout is real time and does not
expire during the test, which is what "Stay signed in" needs anyway).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from e2e.shop import (
    add_to_cart,
    api_contents,
    badge,
    cart_contents,
    cart_line,
    expect_lines,
    line_quantity,
    new_email,
    notice,
    register,
    same_page,
    set_quantity,
    sign_in,
    visit,
    wait_connected,
)
from e2e.test_accessibility import assert_accessible

RESTORED_ELSEWHERE = "restored to an earlier version on another device"
GUEST_CART_DAYS = 7  # the default; the e2e server does not set STOREFRONT_GUEST_CART_DAYS
SESSION_MINUTES = 30  # the default STOREFRONT_SESSION_TIMEOUT_MINUTES
MAX_TABS = 80  # enough Tab presses to cross the header and every entry on the history page


# --- helpers of this file ---------------------------------------------------------------------


def history_entry(page: Page, revision: int):
    return page.locator(f'[data-testid="history-entry"][data-revision="{revision}"]')


def open_history(page: Page) -> list[int]:
    """Open /cart/history; return the revisions it lists, in the order shown."""
    visit(page, "/cart/history")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cart's history")
    entries = page.get_by_test_id("history-entry")
    expect(entries.first).to_be_visible()
    return [int(e.get_attribute("data-revision")) for e in entries.all()]


def expect_restored_to(page: Page, revision: int) -> None:
    """The page is /cart after a restore, and its notice says which revision came back."""
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(notice(page)).to_contain_text(f"Your cart is back as it was at revision {revision}")


def grant_support(shop_server, email: str) -> None:
    """``flask users grant-support EMAIL`` on the live server's database, with its environment
    (the fixture runs the CLI with the very env it started gunicorn with)."""
    shop_server.flask("users", "grant-support", email)


# --- 1. a restore reaches the shopper's other open pages ---------------------------------------


def test_restore_on_one_device_updates_the_other_devices_open_cart(new_device):
    email = new_email("restore-sync")
    a = new_device()
    register(a, email)
    add_to_cart(a, "DEMO-0040", 1)  # revision 1
    add_to_cart(a, "DEMO-0041", 2)  # revision 2
    add_to_cart(a, "DEMO-0042", 3)  # revision 3

    b = new_device()
    sign_in(b, email)  # no guest cart on b: nothing merges, no revision
    visit(b, "/cart")
    wait_connected(b)
    expect_lines(b, {"DEMO-0040": 1, "DEMO-0041": 2, "DEMO-0042": 3})

    assert open_history(a) == [3, 2, 1], "newest first, one entry per change"
    expect(history_entry(a, 3)).to_contain_text("(current)")
    expect(history_entry(a, 1)).to_contain_text("Added 1 ×")

    with same_page(b):
        history_entry(a, 1).get_by_test_id("history-restore").click()
        expect_restored_to(a, 1)
        expect_lines(a, {"DEMO-0040": 1})

        # b never reloads: its lines, badge and notice follow the restore.
        expect_lines(b, {"DEMO-0040": 1})
        expect(badge(b)).to_have_text("1")
        expect(notice(b)).to_contain_text(RESTORED_ELSEWHERE)
    assert api_contents(b) == {"DEMO-0040": 1}

    # The restore is a new revision on top, so it can be undone the same way.
    assert open_history(a)[:2] == [4, 3]
    expect(history_entry(a, 4)).to_contain_text("Restored the cart as it was at revision 1")


# --- 2. undoing a sign-in merge ----------------------------------------------------------------


def test_undo_of_a_merge_puts_the_account_cart_back(new_device):
    email = new_email("undo-merge")
    account = new_device()
    register(account, email)
    add_to_cart(account, "DEMO-0030", 1)
    assert cart_contents(account) == {"DEMO-0030": 1}

    guest = new_device()
    shirt = add_to_cart(guest, "DEMO-0031", 2)
    sign_in(guest, email)

    expect(guest).to_have_url(re.compile(r"/cart$"))
    report = notice(guest)
    expect(report).to_contain_text(f"2 × {shirt.name}")
    expect_lines(guest, {"DEMO-0030": 1, "DEMO-0031": 2})
    undo = report.get_by_test_id("merge-undo")
    expect(undo).to_be_visible()
    expect(undo).to_have_accessible_name(re.compile("undo", re.IGNORECASE))

    undo.click()
    expect_restored_to(guest, 1)  # revision 1: the account's cart just before the merge
    expect_lines(guest, {"DEMO-0030": 1})
    expect(guest.get_by_test_id("merge-undo")).to_have_count(0)
    assert api_contents(guest) == {"DEMO-0030": 1}
    assert cart_contents(account) == {"DEMO-0030": 1}, "the account's other device agrees"


# --- 3. a guest is told how long the cart is kept ----------------------------------------------


def test_guest_cart_says_how_long_it_is_kept_and_a_signed_in_cart_does_not(new_device):
    guest = new_device()
    visit(guest, "/cart")
    expect(guest.get_by_role("heading", name="Your cart")).to_be_visible()
    expect(guest.get_by_test_id("cart-expiry")).to_have_count(0)  # nothing to keep yet

    before = datetime.now(UTC)
    add_to_cart(guest, "DEMO-0050", 1)
    after = datetime.now(UTC)
    visit(guest, "/cart")
    expiry = guest.get_by_test_id("cart-expiry")
    expect(expiry).to_be_visible()
    # Server time: the day the cart is forgotten, a week after this change (either side of a
    # midnight that may fall between the change and now).
    days = sorted(
        {
            (moment + timedelta(days=GUEST_CART_DAYS)).strftime("%-d %B")
            for moment in (before, after)
        }
    )
    expected = "|".join(re.escape(day) for day in days)
    expect(expiry).to_have_text(
        re.compile(rf"^\s*We keep this cart until ({expected}); sign in to keep it\.\s*$")
    )
    expect(expiry).not_to_have_attribute("role", "alert")  # not in its last day
    link = expiry.get_by_role("link", name="sign in")
    expect(link).to_have_attribute("href", re.compile(r"^/login\?next=(/|%2F)cart$"))

    shopper = new_device()
    register(shopper, new_email("expiry"))
    add_to_cart(shopper, "DEMO-0050", 1)
    visit(shopper, "/cart")
    expect(cart_line(shopper, "DEMO-0050")).to_be_visible()
    expect(shopper.get_by_test_id("cart-expiry")).to_have_count(0)


# --- 4. the idle-timeout warning ---------------------------------------------------------------


def test_idle_timeout_warns_stay_signed_in_renews_and_otherwise_it_ends(new_device):
    page = new_device()
    page.clock.install()  # before any page loads: session-timeout.js reads this clock
    register(page, new_email("idle"))
    add_to_cart(page, "DEMO-0060", 1)
    visit(page, "/cart")
    body = page.locator("body")
    expect(body).to_have_attribute("data-session-minutes", str(SESSION_MINUTES))
    left = int(body.get_attribute("data-session-left"))
    assert SESSION_MINUTES * 60 - 60 <= left <= SESSION_MINUTES * 60, left
    wait_connected(page)

    # The page asks the server (GET /session/status) before it warns or gives up, and the
    # server's clock does not move with the page's: the test answers for it, as the server
    # would after that much idle time.
    server_says = {"signed_in": True, "seconds_left": SESSION_MINUTES * 60}
    page.route(
        "**/session/status",
        lambda route: route.fulfill(json=server_says, headers={"Cache-Control": "no-store"}),
    )

    warning = page.get_by_test_id("session-warning")
    expect(warning).to_have_count(0)
    # Up to the last 2 minutes: still quiet.
    page.clock.fast_forward(f"{SESSION_MINUTES - 3}:00")
    expect(warning).to_have_count(0)
    # Into the last 2 minutes: warned, with the button.
    server_says["seconds_left"] = 90
    page.clock.fast_forward("01:30")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("You will be signed out in about")
    expect(page.get_by_test_id("session-ended")).to_have_count(0)

    with page.expect_response(lambda r: r.url.endswith("/session/renew")) as renewed:
        warning.get_by_test_id("stay-signed-in").click()
    assert renewed.value.status == 200, f"POST /session/renew: HTTP {renewed.value.status}"
    expect(warning).to_have_count(0)
    expect(notice(page)).to_contain_text("You stay signed in.")

    # The server still knows this session: the page can change the cart (htmx, no reload).
    with same_page(page):
        set_quantity(page, "DEMO-0060", 4)
        expect(line_quantity(page, "DEMO-0060")).to_have_value("4")
        expect(badge(page)).to_have_text("4")
    assert api_contents(page) == {"DEMO-0060": 4}
    expect(page.get_by_text("Signed in as")).to_be_visible()

    # Now nobody answers: past the whole timeout, the page says the session has ended.
    server_says.update(signed_in=False, seconds_left=0)
    page.clock.fast_forward(f"{SESSION_MINUTES + 1}:00")
    ended = page.get_by_test_id("session-ended")
    expect(ended).to_be_visible()
    expect(ended.get_by_role("link", name="sign in")).to_have_attribute("href", "/login")
    expect(page.get_by_test_id("session-warning")).to_have_count(0)


# --- 5. restoring with the keyboard ------------------------------------------------------------


def test_history_restore_with_the_keyboard(new_device):
    page = new_device()
    register(page, new_email("keyboard"))
    add_to_cart(page, "DEMO-0070", 2)  # revision 1
    add_to_cart(page, "DEMO-0071", 1)  # revision 2
    assert open_history(page) == [2, 1]

    # From the top of the page, Tab until the restore button of revision 1 has the focus.
    page.locator("body").focus()
    target = history_entry(page, 1).get_by_test_id("history-restore")
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError(f"Tab never reached revision 1's restore button ({MAX_TABS} presses)")
    expect(target).to_be_focused()
    expect(target).to_have_accessible_name(re.compile(r"Restore the cart as it was at revision 1"))

    page.keyboard.press("Enter")
    expect_restored_to(page, 1)
    expect_lines(page, {"DEMO-0070": 2})
    assert api_contents(page) == {"DEMO-0070": 2}


# --- 6. accessibility of the new pages ---------------------------------------------------------


def test_history_and_support_pages_have_no_serious_violations(new_device, axe_source, shop_server):
    # axe is injected as an inline script, which the shop's Content-Security-Policy refuses (as
    # it should): these two devices let Playwright bypass CSP for the injection only.
    shopper_email = new_email("a11y-shopper")
    shopper = new_device(bypass_csp=True)
    register(shopper, shopper_email)
    add_to_cart(shopper, "DEMO-0001", 1, size="M")
    add_to_cart(shopper, "DEMO-0080", 2)
    assert open_history(shopper) == [2, 1]
    assert_accessible(shopper, axe_source)

    support_email = new_email("a11y-support")
    support = new_device(bypass_csp=True)
    register(support, support_email)
    grant_support(shop_server, support_email)

    visit(support, "/support")
    expect(support.get_by_role("heading", level=1)).to_have_text("Support")
    expect(support.locator('a[href="/support"]')).to_be_visible()  # the header's way in
    assert_accessible(support, axe_source)

    # Find the shopper, restore one of their revisions (so the audit log has a row), and check
    # the page with a timeline and a log.
    support.get_by_label("Find a shopper by email").fill(shopper_email)
    support.get_by_role("button", name="Find").click()
    expect(support.get_by_role("heading", name=f"Cart timeline of {shopper_email}")).to_be_visible()
    expect(support.get_by_test_id("history-entry")).to_have_count(2)
    history_entry(support, 1).get_by_test_id("history-restore").click()
    expect(notice(support)).to_contain_text("is back as it was at revision 1")
    expect(support.get_by_test_id("history-entry")).to_have_count(3)
    expect(support.locator("table.audit")).to_contain_text(shopper_email)
    assert_accessible(support, axe_source)
    assert api_contents(shopper) == {"DEMO-0001": 1}


# --- 7. support is for support users only ------------------------------------------------------


def test_support_page_is_forbidden_to_guests_and_shoppers(new_device):
    guest = new_device()
    visit(guest, "/support", status=403)

    shopper = new_device()
    register(shopper, new_email("not-support"))
    visit(shopper, "/support", status=403)
    visit(shopper, "/support?email=someone%40example.com", status=403)
    expect(shopper.locator('a[href="/support"]')).to_have_count(0)  # no way in from the header
