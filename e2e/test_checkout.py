"""Checkout, from a cart to an order, in the browser: with the ``test`` provider's card tokens
(the session's shop is configured with it, see ``SHOP_ENV``), on two devices of one guest, with
JavaScript off, by keyboard only, with htmx re-pricing the page as the shopper types.

Devices are browser contexts; one guest on two devices is a second context made from the first
one's storage state (the same cookie). Every wait is on the page's DOM, never on a clock.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from playwright.sync_api import Locator, Page, expect

from e2e.shop import (
    ELSEWHERE,
    Shipping,
    add_to_cart,
    api_contents,
    cart_line,
    checkout_amount,
    checkout_field,
    checkout_label,
    checkout_totals,
    choose_method,
    expect_lines,
    fill_checkout,
    new_email,
    notice,
    open_checkout,
    open_live,
    order_number,
    place_order,
    repriced,
    same_page,
    visit,
)
from e2e.test_accessibility import assert_accessible

CENT = Decimal("0.01")
TAX = Decimal("0.10")  # the demo's rate, on products and shipping
STANDARD = Decimal("5.00")  # the demo's `standard` method, free from 50.00


def expected_total(totals: dict[str, Decimal]) -> Decimal:
    return totals["subtotal"] - totals["discount"] + totals["shipping"] + totals["tax"]


def expect_order_page(page: Page, status: str, lines: dict[str, int]) -> str:
    """The order's own page is open: its number, status in words and lines. Returns the
    number."""
    assert re.search(r"/orders/\d+$", page.url), page.url
    number = order_number(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {number}")
    expect(page.get_by_test_id("order-status")).to_have_text(status)
    expect(page.get_by_test_id("order-line")).to_have_count(len(lines))
    for sku, quantity in lines.items():
        row = page.locator(f'[data-testid="order-line"][data-sku="{sku}"]')
        expect(row).to_have_count(1)
        expect(row.get_by_role("cell").nth(1)).to_have_text(str(quantity))
    return number


def test_guest_checks_out_and_the_other_devices_pages_follow(new_device):
    a = new_device()
    cup = add_to_cart(a, "DEMO-0414", 2)
    tray = add_to_cart(a, "DEMO-0415", 1)
    b = new_device(storage_state=a.context.storage_state())  # the same guest, second device

    # B has its cart open, and its checkout in another tab.
    open_live(b, "/cart")
    expect_lines(b, {"DEMO-0414": 2, "DEMO-0415": 1})
    b_checkout = b.context.new_page()
    open_checkout(b_checkout)
    expect(b_checkout.get_by_test_id("checkout-place")).to_be_visible()

    open_checkout(a)
    with same_page(a):
        fill_checkout(a, Shipping(email=new_email("guest-checkout")))
        choose_method(a, "standard")
    subtotal = cup.price * 2 + tray.price
    totals = checkout_totals(a)
    assert totals["subtotal"] == subtotal
    assert totals["discount"] == 0
    assert totals["shipping"] == (STANDARD if subtotal < 50 else 0)
    assert totals["tax"] == ((subtotal + totals["shipping"]) * TAX).quantize(CENT)
    assert totals["total"] == expected_total(totals)

    with same_page(b), same_page(b_checkout):
        place_order(a, "tok_ok")
        number = expect_order_page(a, "Paid", {"DEMO-0414": 2, "DEMO-0415": 1})
        expect(a.get_by_test_id("order-total")).to_contain_text(f"{totals['total']:,}")

        # B's open cart drops the ordered lines and says which order took them, with a link.
        expect_lines(b, {})
        expect(notice(b)).to_contain_text(f"Order {number} was placed {ELSEWHERE}")
        link = notice(b).get_by_role("link", name=number, exact=True)
        expect(link).to_have_attribute("href", re.compile(rf"/orders/{number}$"))

        # B's open checkout says the cart was ordered, and no longer offers to pay.
        ordered = b_checkout.get_by_test_id("checkout-ordered")
        expect(ordered).to_contain_text(f"order {number}")
        expect(ordered.get_by_role("link", name=f"order {number}")).to_have_attribute(
            "href", re.compile(rf"/orders/{number}$")
        )
        expect(b_checkout.get_by_test_id("checkout-place")).to_have_count(0)
    assert api_contents(b) == {}

    # The order is the guest's: listed on /orders of the browser that placed it.
    visit(a, "/orders")
    expect(a.get_by_role("link", name=number, exact=True)).to_be_visible()


def test_a_declined_card_keeps_the_cart_and_says_why(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0416", 1)
    open_checkout(page)
    shipping = Shipping(email=new_email("declined"))
    fill_checkout(page, shipping)
    choose_method(page, "standard")
    before = checkout_totals(page)

    place_order(page, "tok_declined", status=402)
    assert page.url.endswith("/checkout"), page.url
    error = page.get_by_test_id("checkout-error")
    expect(error).to_contain_text("declined")
    expect(page.get_by_role("alert")).to_contain_text("declined")
    # Still the same checkout: details kept, same totals, ready to pay again.
    expect(checkout_field(page, "email")).to_have_value(shipping.email)
    expect(checkout_field(page, "postal_code")).to_have_value(shipping.postal_code)
    assert checkout_totals(page) == before
    expect(page.get_by_test_id("checkout-place")).to_be_enabled()

    visit(page, "/cart")
    expect_lines(page, {"DEMO-0416": 1})
    expect(cart_line(page, "DEMO-0416")).to_be_visible()
    assert api_contents(page) == {"DEMO-0416": 1}


def test_checkout_works_without_javascript(new_device):
    page = new_device(java_script_enabled=False)
    product = add_to_cart(page, "DEMO-0417", 1)
    open_checkout(page, live=False)
    assert page.evaluate("() => typeof window.htmx") == "undefined"
    # The countries are listed by name, as people look for them (not by ISO code), accents
    # aside ("Åland Islands" among the A's).
    names = page.get_by_label(checkout_label("Country")).locator("option").all_inner_texts()[1:]

    def by_name(name: str) -> str:
        return "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        ).casefold()

    assert names == sorted(names, key=by_name), names[:5]
    assert names.index("Åland Islands") < names.index("Albania")
    fill_checkout(page, Shipping(email=new_email("no-js")), live=False)
    choose_method(page, "pickup", live=False)
    checkout_field(page, "coupon").fill("WELCOME10")

    # "Update totals" posts the details and comes back to the checkout, re-priced.
    with page.expect_navigation():
        page.get_by_role("button", name="Update totals").click()
    assert page.url.endswith("/checkout"), page.url
    expect(page.get_by_test_id("shipping-method-pickup")).to_be_checked()
    expect(checkout_field(page, "coupon")).to_have_value("WELCOME10")
    totals = checkout_totals(page)
    assert totals["subtotal"] == product.price
    assert totals["discount"] == (product.price * Decimal("0.10")).quantize(CENT)
    assert totals["shipping"] == 0
    assert totals["total"] == expected_total(totals)

    place_order(page, "tok_ok")
    expect_order_page(page, "Paid", {"DEMO-0417": 1})
    expect(page.get_by_test_id("order-total")).to_contain_text(f"{totals['total']:,}")
    visit(page, "/cart")
    expect(page.get_by_test_id("cart-line")).to_have_count(0)


def tab_to(page: Page, target: Locator, presses: int = 40) -> None:
    """Press Tab (and only Tab) until ``target`` has the focus."""
    for _ in range(presses):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{presses} presses of Tab never reached {target}")


def test_keyboard_only_checkout(new_device):
    """Tab, type, arrows and Enter, never the mouse; typed at full speed, without waiting for
    the re-pricing each change sets off (what is typed meanwhile must survive its answer)."""
    page = new_device()
    add_to_cart(page, "DEMO-0418", 3)
    open_checkout(page)
    shipping = Shipping(email=new_email("keyboard"))
    page.evaluate(
        """() => { window.__e2eMouse = 0;
                   for (const t of ['mousedown', 'mouseup', 'click'])
                     document.addEventListener(t, (e) => { if (e.detail) window.__e2eMouse += 1; },
                                               true); }"""
    )

    with same_page(page):
        # From the top of the page: the skip link first, then on to the fields.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        for name in ("email", "name", "address_line1", "city", "postal_code"):
            tab_to(page, checkout_field(page, name))
            page.keyboard.type(getattr(shipping, name))
        # The country: typed into the closed list, as a keyboard user picks an option.
        country = page.get_by_label(checkout_label("Country"))
        tab_to(page, country)
        page.keyboard.type("United States")
        # The shipping method: back up into its radio group (Shift+Tab lands on the checked
        # method, standard), and the arrow keys move to another method and choose it.
        pickup = page.get_by_test_id("shipping-method-pickup")
        standard = page.get_by_test_id("shipping-method-standard")
        expect(standard).to_be_checked()
        for _ in range(10):
            if standard.evaluate("el => el === document.activeElement"):
                break
            page.keyboard.press("Shift+Tab")
        expect(standard).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(pickup).to_be_focused()
        expect(pickup).to_be_checked()
        expect(page.get_by_test_id("checkout-shipping")).to_contain_text("0.00")
        expect(pickup).to_be_focused()  # still there once the answer was swapped in

        tab_to(page, checkout_field(page, "payment_token"))
        page.keyboard.type("tok_ok")
        place = page.get_by_test_id("checkout-place")
        tab_to(page, place)
        # Everything typed is there, whatever answers came back meanwhile.
        for name in ("email", "name", "address_line1", "city", "postal_code"):
            expect(checkout_field(page, name)).to_have_value(getattr(shipping, name))
        expect(country).to_have_value("US")
        expect(checkout_field(page, "payment_token")).to_have_value("tok_ok")
        expect(place).to_be_focused()
    assert page.evaluate("() => window.__e2eMouse") == 0, "the mouse was used"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect_order_page(page, "Paid", {"DEMO-0418": 3})
    expect(page.locator("address")).to_contain_text(shipping.name)
    expect(page.locator("address")).to_contain_text(shipping.city)


def test_what_is_typed_while_the_checkout_is_repriced_survives_the_answer(new_device):
    """The re-pricing answer replaces the form: the field being typed in keeps its text, its
    focus and its place, a choice made meanwhile stays made, and both are priced in turn."""
    page = new_device()
    add_to_cart(page, "DEMO-0420", 1)
    open_checkout(page)
    shipping = Shipping(email=new_email("in-flight"))
    held = []  # the first re-pricing request, held back; the ones after it go through

    def hold_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/checkout/details", hold_first)

    email, name = checkout_field(page, "email"), checkout_field(page, "name")
    country = page.get_by_label(checkout_label("Country"))
    with same_page(page):
        settled = page.evaluate("() => window.__e2eSettled")
        with page.expect_request("**/checkout/details"):
            email.fill(shipping.email)
            name.focus()  # leaving the email posts it: its answer is held back
        page.keyboard.type("Ada ")
        country.select_option("US")  # its own change waits behind the one on its way
        name.focus()
        page.keyboard.type("Lovelace")
        while not held:  # the route handler runs on the next calls into Playwright
            page.evaluate("() => 0")
        held[0].fulfill(response=held[0].fetch())

        # The answer (which knew only the email) and then the re-pricing of what came after.
        page.wait_for_function("n => window.__e2eSettled >= n + 2", arg=settled)
        expect(name).to_have_value("Ada Lovelace")
        expect(name).to_be_focused()
        expect(country).to_have_value("US")
        expect(email).to_have_value(shipping.email)
    visit(page, "/checkout")  # kept with the cart, as typed
    expect(email).to_have_value(shipping.email)
    expect(name).to_have_value("Ada Lovelace")
    expect(country).to_have_value("US")


def test_totals_follow_coupon_and_method_live_and_a_bad_coupon_says_why(new_device):
    page = new_device()
    product = add_to_cart(page, "DEMO-0419", 1)
    open_checkout(page)
    fill_checkout(page, Shipping(email=new_email("coupon")))
    choose_method(page, "standard")
    subtotal = product.price
    assert subtotal < 50, "pick a product under the free-shipping threshold"

    coupon = checkout_field(page, "coupon")
    with same_page(page):
        before = checkout_totals(page)
        assert before["discount"] == 0 and before["shipping"] == STANDARD

        with repriced(page):
            coupon.fill("WELCOME10")
            coupon.press("Tab")
        discount = (subtotal * Decimal("0.10")).quantize(CENT)
        expect(page.get_by_test_id("checkout-discount")).to_contain_text(str(discount))
        expect(page.locator("dt", has_text="Discount")).to_contain_text("WELCOME10")
        with_coupon = checkout_totals(page)
        assert with_coupon["total"] == expected_total(with_coupon) < before["total"]
        expect(coupon).not_to_have_attribute("aria-invalid", "true")

        choose_method(page, "pickup")
        expect(page.get_by_test_id("checkout-shipping")).to_contain_text("0.00")
        picked_up = checkout_totals(page)
        assert picked_up["discount"] == discount
        assert picked_up["total"] == expected_total(picked_up) < with_coupon["total"]
        expect(page.get_by_test_id("checkout-place")).to_contain_text(f"{picked_up['total']}")

        # A coupon the shop does not know: refused next to the field, in words, announced.
        with repriced(page):
            coupon.fill("NO-SUCH-CODE")
            coupon.press("Tab")
        coupon = checkout_field(page, "coupon")
        expect(coupon).to_have_attribute("aria-invalid", "true")
        problem = page.locator("#" + coupon.get_attribute("aria-describedby"))
        expect(problem).to_be_visible()
        expect(problem).to_contain_text(re.compile(r"coupon|code", re.I))
        expect(coupon).to_have_accessible_description(problem.inner_text())
        # The field shows what was typed; the coupon applied before stays, and so do the totals.
        expect(coupon).to_have_value("NO-SUCH-CODE")
        expect(page.locator("dt", has_text="Discount")).to_contain_text("WELCOME10")
        assert checkout_amount(page, "discount") == discount
        assert checkout_amount(page, "total") == picked_up["total"]

        # Method back to standard: the shipping comes back.
        choose_method(page, "standard")
        expect(page.get_by_test_id("checkout-shipping")).to_contain_text(str(STANDARD))


def test_checkout_and_order_pages_have_no_serious_violations(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0421", 2)
    open_checkout(page)
    expect(page.get_by_test_id("checkout-place")).to_be_visible()
    assert_accessible(page, axe_source)

    # A refused coupon (swapped in by htmx) and missing fields, shown next to their fields.
    coupon = checkout_field(page, "coupon")
    with repriced(page):
        coupon.fill("NO-SUCH-CODE")
        coupon.press("Tab")
    expect(checkout_field(page, "coupon")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe_source)
    place_order(page, "tok_ok", status=422)  # still the refused coupon: nothing is placed
    expect(page.get_by_test_id("checkout-error")).to_be_visible()
    expect(checkout_field(page, "coupon")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe_source)
    checkout_field(page, "coupon").fill("")
    place_order(page, "tok_ok", status=422)  # no email, no address: what is missing is marked
    expect(page.get_by_test_id("checkout-error")).to_be_visible()
    expect(checkout_field(page, "email")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe_source)

    # A declined card: the page says why.
    open_checkout(page)
    fill_checkout(page, Shipping(email=new_email("axe")))
    place_order(page, "tok_declined", status=402)
    expect(page.get_by_test_id("checkout-error")).to_contain_text("declined")
    assert_accessible(page, axe_source)

    place_order(page, "tok_ok")
    number = expect_order_page(page, "Paid", {"DEMO-0421": 2})
    assert_accessible(page, axe_source)

    visit(page, "/orders")
    expect(page.get_by_role("heading", name="Your orders", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=number, exact=True)).to_be_visible()
    assert_accessible(page, axe_source)
