"""Optimistic changes and the sealed offline queue, across devices (browser contexts).

A change shows at once on the page that made it, marked pending, and the mark clears when the
server confirms it; a refused change goes back to what the server holds, with the reason in
the notice region, and no other device ever shows it. Changes queued offline are sealed in the
browser (AES-GCM under a non-extractable key in IndexedDB): no plain text of them on disk.

The server's answers are held back by route interception so that "before the answer" is a
state the test can look at; every wait is on the DOM.
"""

from __future__ import annotations

import json
import secrets
import time

from playwright.sync_api import Page, expect

from e2e.conftest import WAIT_MS
from e2e.shop import (
    SocketTap,
    add_to_cart,
    api_cart,
    api_contents,
    badge,
    cart_line,
    expect_lines,
    line_quantity,
    notice,
    open_live,
    open_product,
    remove_line,
    same_page,
    set_quantity,
    subtotal,
    sync_status,
    wait_connected,
)
from e2e.test_accessibility import assert_accessible

SEALED_QUEUE = "storefront.sealed-changes"
PLAIN_QUEUE = "storefront.pending-changes"


class HeldAnswers:
    """Requests to ``pattern`` wait in the browser until ``release``: the page stays in the
    state between a change leaving and its answer arriving."""

    def __init__(self, page: Page, pattern: str) -> None:
        self.page, self.pattern, self.held = page, pattern, []
        page.route(pattern, self._hold)

    def _hold(self, route) -> None:
        self.held.append(route)

    def wait_for_one(self) -> None:
        """The change has left the page (htmx marks it) and its request is held here."""
        self.page.wait_for_function("() => document.querySelector('.htmx-request') !== null")
        self._until_held()

    def _until_held(self) -> None:
        # The route handler runs when Playwright delivers the browser's paused request to this
        # process, which may come just after the page's own answer: let Playwright deliver it
        # (a short wait_for_timeout dispatches pending events), for at most WAIT_MS.
        deadline = time.monotonic() + WAIT_MS / 1000
        while not self.held and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)
        assert self.held, "no change was sent"

    def release(self) -> None:
        self._until_held()
        held, self.held = self.held, []
        for route in held:
            route.continue_()
        self.page.unroute(self.pattern)


def pending_note(page: Page, sku: str):
    return cart_line(page, sku).get_by_test_id("pending-note")


def record_shown(page: Page) -> None:
    """Remember every badge count and line quantity this page shows from now on."""
    page.evaluate(
        """() => {
          window.__e2eShown = [];
          const note = () => window.__e2eShown.push({
            badge: document.getElementById('cart-count').textContent.trim(),
            quantities: Array.from(document.querySelectorAll('[data-testid=line-quantity]'), (el) => el.value),
          });
          note();
          new MutationObserver(note).observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true});
        }"""
    )


def shown_so_far(page: Page) -> list[dict]:
    return page.evaluate("() => window.__e2eShown")


def expect_confirmed(page: Page, sku: str) -> None:
    expect(cart_line(page, sku)).not_to_have_attribute("aria-busy", "true")
    expect(pending_note(page, sku)).to_have_count(0)
    expect(badge(page)).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#cart-summary")).not_to_have_attribute("aria-busy", "true")


def test_a_quantity_shows_at_once_marked_pending_and_clears_when_confirmed(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    mug = add_to_cart(page, "DEMO-0611", 1)
    other = new_device(storage_state=page.context.storage_state())
    open_live(other, "/cart")
    open_live(page, "/cart")
    before = subtotal(page)

    held = HeldAnswers(page, "**/cart/lines/*")
    with same_page(page):
        field = line_quantity(page, "DEMO-0611")
        field.fill("4")
        field.press("Enter")
        held.wait_for_one()
        # Before any answer: the page shows the change, marked pending in looks and words.
        expect(field).to_have_value("4")
        expect(badge(page)).to_have_text("4")
        expect(badge(page)).to_have_attribute("aria-busy", "true")
        expect(badge(page)).to_have_attribute("aria-label", "4 items in your cart, saving…")
        expect(cart_line(page, "DEMO-0611")).to_have_attribute("aria-busy", "true")
        expect(pending_note(page, "DEMO-0611")).to_have_text("Saving…")
        # Money waits for the server's figure, marked as being updated.
        summary = page.locator("#cart-summary")
        expect(summary).to_have_attribute("aria-busy", "true")
        expect(summary).to_contain_text("Updating…")
        assert subtotal(page) == before
        assert_accessible(page, axe_source)
        # Nothing reached the server: the other device still shows the confirmed cart.
        expect_lines(other, {"DEMO-0611": 1})

        held.release()
        expect_confirmed(page, "DEMO-0611")
        expect(badge(page)).to_have_attribute("aria-label", "4 items in your cart")
        expect(page.get_by_test_id("cart-subtotal")).to_contain_text(f"{mug.price * 4:,}")
        expect_lines(page, {"DEMO-0611": 4})
        expect_lines(other, {"DEMO-0611": 4})
    assert api_contents(other) == {"DEMO-0611": 4}


def test_a_removal_shows_at_once_and_the_line_goes_when_confirmed(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0612", 2)
    add_to_cart(page, "DEMO-0613", 1)
    open_live(page, "/cart")

    held = HeldAnswers(page, "**/remove")
    with same_page(page):
        cart_line(page, "DEMO-0612").get_by_test_id("line-remove").click()
        held.wait_for_one()
        expect(badge(page)).to_have_text("1")
        expect(cart_line(page, "DEMO-0612")).to_have_class("cart-line pending pending-removal")
        expect(pending_note(page, "DEMO-0612")).to_have_text("Removing…")
        held.release()
        expect_lines(page, {"DEMO-0613": 1})
        expect(badge(page)).not_to_have_attribute("aria-busy", "true")


def test_an_add_on_the_product_page_shows_in_the_badge_at_once(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    open_product(page, "DEMO-0614")
    wait_connected(page)
    other = new_device(storage_state=page.context.storage_state())
    open_product(other, "DEMO-0615")
    wait_connected(other)

    held = HeldAnswers(page, "**/cart/lines")
    with same_page(page):
        page.get_by_test_id("add-quantity").fill("3")
        page.get_by_test_id("add-to-cart").click()
        held.wait_for_one()
        expect(badge(page)).to_have_text("3")
        expect(badge(page)).to_have_attribute("aria-busy", "true")
        assert_accessible(page, axe_source)
        expect(badge(other)).to_have_text("0")
        held.release()
        expect(badge(page)).not_to_have_attribute("aria-busy", "true")
        expect(badge(page)).to_have_text("3")
        expect(notice(page)).to_contain_text("View your cart")
    expect(badge(other)).to_have_text("3")  # pushed once committed


def test_a_refused_quantity_rolls_back_with_the_reason_and_the_other_device_never_shows_it(
    new_device,
):
    page = new_device()
    add_to_cart(page, "DEMO-1500", 1)  # the demo's scarce product: 3 in stock
    other = new_device(storage_state=page.context.storage_state())
    open_live(other, "/cart")
    record_shown(other)
    open_live(page, "/cart")

    held = HeldAnswers(page, "**/cart/lines/*")
    with same_page(page):
        field = line_quantity(page, "DEMO-1500")
        field.fill("7")
        field.press("Enter")
        held.wait_for_one()
        expect(badge(page)).to_have_text("7")
        expect(pending_note(page, "DEMO-1500")).to_have_text("Saving…")
        held.release()
        # Refused (409 out_of_stock): back to what the server holds, and why, in words.
        expect(notice(page)).to_contain_text("Only 3 of DEMO-1500 in stock.")
        expect(field).to_have_value("1")
        expect(badge(page)).to_have_text("1")
        expect(badge(page)).to_have_attribute("aria-label", "1 item in your cart")
        expect_confirmed(page, "DEMO-1500")

        # A later change that is taken reaches the other device; one socket delivers in order,
        # so had the refused one been pushed, the other device would have shown it by now.
        set_quantity(page, "DEMO-1500", 2)
        expect_lines(page, {"DEMO-1500": 2})
    expect_lines(other, {"DEMO-1500": 2})
    seen = shown_so_far(other)
    assert not [s for s in seen if s["badge"] == "7" or "7" in s["quantities"]], seen
    assert api_contents(page) == {"DEMO-1500": 2}


def test_a_change_to_a_line_deleted_on_another_device_rolls_back_and_the_line_goes(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0616", 1)
    add_to_cart(page, "DEMO-0617", 2)
    tap = SocketTap(page.context)
    other = new_device(storage_state=page.context.storage_state())
    open_live(other, "/cart")
    open_live(page, "/cart")

    with same_page(page):
        tap.hold_next(1)  # the push of the other device's removal is slow to reach this page
        remove_line(other, "DEMO-0616")
        expect_lines(other, {"DEMO-0617": 2})
        expect(badge(page)).to_have_text("3")  # this page has not heard of it

        field = line_quantity(page, "DEMO-0616")
        field.fill("5")
        field.press("Enter")
        # Refused (the line is gone): the notice says why, and the page shows the server's cart.
        expect(notice(page)).to_contain_text("That line is not in your cart.")
        expect_lines(page, {"DEMO-0617": 2})
        expect(badge(page)).not_to_have_attribute("aria-busy", "true")
        assert tap.release() == 1  # the late push is old news by now
        expect_lines(page, {"DEMO-0617": 2})
    assert api_contents(other) == {"DEMO-0617": 2}


# --- the offline queue, sealed ---------------------------------------------------------------

READ_STORES = """async () => {
  const local = {};
  for (let i = 0; i < localStorage.length; i++) {
    const name = localStorage.key(i);
    local[name] = localStorage.getItem(name);
  }
  // Opening a database that is not there would create it (empty): only look at one that is.
  if (!(await indexedDB.databases()).some((d) => d.name === 'storefront-offline')) {
    return {keys: [], exported: 'no database', local};
  }
  const db = await new Promise((resolve, reject) => {
    const req = indexedDB.open('storefront-offline');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const out = {};
  for (const name of db.objectStoreNames) {
    out[name] = await new Promise((resolve) => {
      const req = db.transaction(name).objectStore(name).getAll();
      req.onsuccess = () => resolve(req.result);
    });
  }
  db.close();
  const keys = [];
  let exported = 'not tried';
  for (const records of Object.values(out)) {
    for (const value of records) {
      const isKey = value instanceof CryptoKey;
      keys.push({isKey, extractable: isKey ? value.extractable : null,
                 algorithm: isKey ? value.algorithm.name : null,
                 text: isKey ? '' : JSON.stringify(value)});
      if (isKey) {
        exported = await crypto.subtle.exportKey('raw', value).then(() => 'exported', (e) => e.name);
      }
    }
  }
  return {keys, exported, local};
}"""


def browser_storage(page: Page) -> dict:
    return page.evaluate(READ_STORES)


def assert_sealed(page: Page, *secrets_: str) -> None:
    """The queue is on disk only sealed, and the key that opens it cannot be read out."""
    stored = browser_storage(page)
    everything = json.dumps(stored["local"]) + json.dumps(stored["keys"])
    for text in secrets_:
        assert text not in everything, f"{text!r} is readable in the browser's storage: {stored}"
    assert PLAIN_QUEUE not in stored["local"], stored["local"]
    assert SEALED_QUEUE in stored["local"], stored["local"]
    assert len(json.loads(stored["local"][SEALED_QUEUE])) >= 1
    assert [k for k in stored["keys"] if k["isKey"]] == [
        {"isKey": True, "extractable": False, "algorithm": "AES-GCM", "text": ""}
    ], stored["keys"]
    assert stored["exported"] == "InvalidAccessError", stored["exported"]


def test_offline_changes_are_sealed_in_the_browser_and_replayed(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0618", 1)
    other = new_device(storage_state=page.context.storage_state())
    open_live(other, "/cart")
    engraving = f"For Ada {secrets.token_hex(4)}"
    open_product(page, "DEMO-0019")
    wait_connected(page)

    page.context.set_offline(True)
    with same_page(page):
        expect(sync_status(page)).to_have_attribute("data-state", "offline")
        page.get_by_label("Engraving (optional), up to 40 characters").fill(engraving)
        page.get_by_test_id("add-quantity").fill("2")
        page.get_by_test_id("add-to-cart").click()
        expect(sync_status(page)).to_have_attribute("data-pending", "1")
        expect(badge(page)).to_have_text("3")  # shown at once, marked as waiting
        expect(badge(page)).to_have_attribute("aria-busy", "true")
        expect(notice(page)).to_contain_text("saved on this device")
        assert_sealed(page, engraving, "DEMO-0019", "engraving", "/cart/lines")
        assert_accessible(page, axe_source)
        expect_lines(other, {"DEMO-0618": 1})  # nothing left this device

        page.context.set_offline(False)
        expect(sync_status(page)).to_have_attribute("data-pending", "0")
        expect(badge(page)).to_have_text("3")
        expect(badge(page)).not_to_have_attribute("aria-busy", "true")
    expect_lines(other, {"DEMO-0618": 1, "DEMO-0019": 2})
    expect(cart_line(other, "DEMO-0019")).to_contain_text(f"engraving: {engraving}")
    assert SEALED_QUEUE not in browser_storage(page)["local"]  # sent: nothing kept
    lines = {line["sku"]: line for line in api_cart(page)["lines"]}
    assert lines["DEMO-0019"]["options"] == {"engraving": engraving}


def test_a_queue_left_in_the_clear_by_an_older_version_is_sealed_on_load_then_sent(
    new_device,
):
    page = new_device()
    add_to_cart(page, "DEMO-0620", 1)
    other = new_device(storage_state=page.context.storage_state())
    open_live(other, "/cart")
    engraving = f"Old plain {secrets.token_hex(4)}"
    plain = [
        {
            "path": "/cart/lines",
            "params": {
                "sku": "DEMO-0018",
                "quantity": "1",
                "option-engraving": engraving,
                "idempotency_key": secrets.token_urlsafe(16),
            },
        }
    ]
    page.evaluate(
        "([name, queue]) => localStorage.setItem(name, JSON.stringify(queue))",
        [PLAIN_QUEUE, plain],
    )
    held = HeldAnswers(page, "**/cart/lines")
    open_live(page, "/cart")  # loading the page seals the old queue, then sends it
    expect(sync_status(page)).to_have_attribute("data-pending", "1")
    page.wait_for_function("() => !localStorage.getItem('storefront.pending-changes')")
    assert_sealed(page, engraving, "DEMO-0018", "engraving")

    held.release()
    expect(sync_status(page)).to_have_attribute("data-pending", "0")
    expect_lines(other, {"DEMO-0620": 1, "DEMO-0018": 1})
    expect(cart_line(other, "DEMO-0018")).to_contain_text(f"engraving: {engraving}")


def test_emptying_the_cart_shows_at_once_and_is_confirmed(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0621", 1)
    add_to_cart(page, "DEMO-0622", 2)
    open_live(page, "/cart")

    held = HeldAnswers(page, "**/cart/clear")
    with same_page(page):
        page.get_by_test_id("cart-clear").click()
        held.wait_for_one()
        expect(badge(page)).to_have_text("0")
        expect(badge(page)).to_have_attribute("aria-busy", "true")
        for sku in ("DEMO-0621", "DEMO-0622"):
            expect(pending_note(page, sku)).to_have_text("Removing…")
        held.release()
        expect(page.get_by_test_id("cart-line")).to_have_count(0)
        expect(badge(page)).not_to_have_attribute("aria-busy", "true")
        expect(badge(page)).to_have_text("0")
    assert api_contents(page) == {}


def test_a_change_queued_offline_and_refused_on_replay_rolls_back_with_the_reason(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-1500", 1)  # 3 in stock
    open_live(page, "/cart")

    page.context.set_offline(True)
    with same_page(page):
        expect(sync_status(page)).to_have_attribute("data-state", "offline")
        field = line_quantity(page, "DEMO-1500")
        field.fill("9")
        field.press("Enter")
        expect(pending_note(page, "DEMO-1500")).to_have_text(
            "Saved on this device, waiting to be sent"
        )
        expect(badge(page)).to_have_text("9")
        expect(sync_status(page)).to_have_attribute("data-pending", "1")

        page.context.set_offline(False)
        expect(sync_status(page)).to_have_attribute("data-pending", "0")
        expect(notice(page)).to_contain_text("Only 3 of DEMO-1500 in stock.")
        expect(field).to_have_value("1")
        expect(badge(page)).to_have_text("1")
        expect_confirmed(page, "DEMO-1500")
    assert api_contents(page) == {"DEMO-1500": 1}


def test_a_queued_change_that_can_no_longer_be_opened_is_dropped_and_said(new_device):
    """Sealed under a key this browser no longer has (site data partly cleared), or altered:
    it cannot be sent; the shopper is told instead of the queue waiting forever."""
    page = new_device()
    add_to_cart(page, "DEMO-0623", 1)
    unreadable = [
        {
            "id": secrets.token_urlsafe(16),
            "iv": "AAAAAAAAAAAAAAAA",
            "data": "c2VhbGVkIHVuZGVyIGEgbG9zdCBrZXk=",
        }
    ]
    page.evaluate(
        "([name, queue]) => localStorage.setItem(name, JSON.stringify(queue))",
        [SEALED_QUEUE, unreadable],
    )
    open_live(page, "/cart")
    expect(notice(page)).to_contain_text("1 change saved on this device could not be read")
    expect(sync_status(page)).to_have_attribute("data-pending", "0")
    assert SEALED_QUEUE not in browser_storage(page)["local"]
    assert api_contents(page) == {"DEMO-0623": 1}
