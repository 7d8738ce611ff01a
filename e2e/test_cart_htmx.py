"""The cart with JavaScript on: htmx updates the page in place, by mouse and by keyboard."""

from __future__ import annotations

from urllib.parse import parse_qs

from playwright.sync_api import expect

from e2e.shop import (
    add_to_cart,
    api_add_each,
    api_cart,
    badge,
    cart_contents,
    cart_line,
    notice,
    open_product,
    reload,
    same_page,
    subtotal,
    visit,
    wait_connected,
)


def test_guest_adds_to_cart_and_badge_updates_without_reload(new_device):
    page = new_device()
    product = open_product(page, "DEMO-0030")
    expect(badge(page)).to_have_text("0")

    with same_page(page):
        page.get_by_test_id("add-quantity").fill("2")
        page.get_by_test_id("add-to-cart").click()
        expect(badge(page)).to_have_text("2")
        expect(notice(page)).to_contain_text(f"Added 2 × {product.name}")
    # The form came back ready for the next add.
    expect(page.get_by_test_id("add-quantity")).to_have_value("1")

    visit(page, "/cart")
    line = cart_line(page, "DEMO-0030")
    expect(line).to_have_count(1)
    expect(line).to_contain_text(product.name)
    expect(line.get_by_test_id("line-quantity")).to_have_value("2")
    expect(page.get_by_test_id("cart-subtotal")).to_be_visible()
    assert subtotal(page) == product.price * 2
    expect(badge(page)).to_have_text("2")


def test_cart_page_updates_quantity_and_removes_lines_in_place(new_device):
    page = new_device()
    mug = add_to_cart(page, "DEMO-0040", 1)
    other = add_to_cart(page, "DEMO-0041", 2)
    visit(page, "/cart")
    expect(page.get_by_test_id("cart-line")).to_have_count(2)
    assert subtotal(page) == mug.price + other.price * 2

    with same_page(page):
        quantity = cart_line(page, "DEMO-0040").get_by_test_id("line-quantity")
        quantity.fill("4")
        quantity.press("Enter")
        expect(badge(page)).to_have_text("6")
        expect(page.get_by_test_id("cart-subtotal")).to_contain_text(
            f"{mug.price * 4 + other.price * 2:,.2f}"
        )
        expect(cart_line(page, "DEMO-0040").get_by_test_id("line-quantity")).to_have_value("4")
        expect(notice(page)).to_contain_text(f"{mug.name}: quantity now 4")

        cart_line(page, "DEMO-0041").get_by_test_id("line-remove").click()
        expect(cart_line(page, "DEMO-0041")).to_have_count(0)
        expect(badge(page)).to_have_text("4")
        expect(page.get_by_test_id("cart-subtotal")).to_contain_text(f"{mug.price * 4:,.2f}")
        expect(notice(page)).to_contain_text(f"Removed {other.name}")
    expect(page.get_by_test_id("cart-line")).to_have_count(1)

    # What the page shows is what the server kept.
    reload(page)
    expect(page.get_by_test_id("cart-line")).to_have_count(1)
    expect(cart_line(page, "DEMO-0040").get_by_test_id("line-quantity")).to_have_value("4")
    expect(badge(page)).to_have_text("4")


def test_refusal_is_shown_in_the_notice_and_changes_nothing(new_device):
    page = new_device()
    open_product(page, "DEMO-1500")  # exactly 3 in stock
    expect(page.get_by_text("Only 3 left.")).to_be_visible()
    with same_page(page):
        page.get_by_test_id("add-quantity").fill("4")
        page.get_by_test_id("add-to-cart").click()
        expect(notice(page)).to_contain_text("Only 3 of DEMO-1500 in stock")
        expect(badge(page)).to_have_text("0")
        # The shopper corrects the quantity in the same form and tries again.
        page.get_by_test_id("add-quantity").fill("3")
        page.get_by_test_id("add-to-cart").click()
        expect(badge(page)).to_have_text("3")
    visit(page, "/cart")
    expect(cart_line(page, "DEMO-1500").get_by_test_id("line-quantity")).to_have_value("3")


def test_a_quick_double_click_on_add_adds_twice_through_htmx_without_a_reload(new_device):
    """Two quick clicks are two adds, each applied once: the second waits behind the first
    (hx-sync queue), under a key of its own, with the quantity and options the shopper chose.
    The form is never swapped out under the second click, so it is never submitted natively."""
    page = new_device()
    product = open_product(page, "DEMO-0002")  # a required size
    page.evaluate(
        """() => {
          window.__e2eClicks = 0;
          document.addEventListener('click', (e) => {
            if (e.target.closest('[data-testid=add-to-cart]')) window.__e2eClicks += 1;
          });
        }"""
    )
    keys: list[str] = []
    page.on(
        "request",
        lambda r: (
            keys.append(parse_qs(r.post_data or "")["idempotency_key"][0])
            if r.method == "POST" and r.url.endswith("/cart/lines")
            else None
        ),
    )

    def answer_after_the_second_click(route):
        answer = route.fetch()
        page.wait_for_function("() => window.__e2eClicks >= 2")  # the first add is in flight
        route.fulfill(response=answer)

    page.route("**/cart/lines", answer_after_the_second_click)
    with same_page(page):
        page.locator('[name="option-size"]').select_option("L")
        page.get_by_test_id("add-quantity").fill("2")
        page.get_by_test_id("add-to-cart").dblclick()
        expect(badge(page)).to_have_text("4")
        expect(notice(page)).to_contain_text(f"Added 2 × {product.name}")
        # Once both went through, the quantity is ready for the next add; the size stays.
        expect(page.get_by_test_id("add-quantity")).to_have_value("1")
        expect(page.locator('[name="option-size"]')).to_have_value("L")

    assert len(keys) == 2 and keys[0] != keys[1], keys
    lines = [(line["sku"], line["options"], line["quantity"]) for line in api_cart(page)["lines"]]
    assert lines == [("DEMO-0002", {"size": "L"}, 4)], lines
    expect(badge(page)).to_have_text("4")


def test_emptying_the_cart_twice_from_one_page_empties_it(new_device):
    """The "Empty the cart" form is not re-rendered by an htmx clear: its second submission
    must still be a new change, not a replay of the first (which would show an empty cart
    while the server keeps the lines)."""
    page = new_device()
    add_to_cart(page, "DEMO-0200", 1)
    visit(page, "/cart")
    with same_page(page):
        page.get_by_test_id("cart-clear").click()
        expect(page.get_by_test_id("cart-line")).to_have_count(0)
        expect(badge(page)).to_have_text("0")

    # Meanwhile, in another tab of the same browser, the shopper adds something.
    other_tab = page.context.new_page()
    add_to_cart(other_tab, "DEMO-0201", 2)

    # Back in the first tab (not reloaded), they empty the cart again.
    with same_page(page), page.expect_response(lambda r: r.url.endswith("/cart/clear")):
        page.get_by_test_id("cart-clear").click()
    expect(badge(page)).to_have_text("0")
    reload(page)  # the server-rendered page says what the cart really holds
    assert cart_contents(page) == {}, "the cart was shown as empty but still holds lines"


def _tab_to(page, test_id: str, limit: int = 40) -> None:
    """Press Tab until the element with this test id has focus, as a keyboard user would."""
    target = page.get_by_test_id(test_id)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{test_id} never received focus after {limit} presses of Tab")


def test_keyboard_only_shopper_adds_to_cart(new_device):
    page = new_device()
    open_product(page, "DEMO-0050")
    expect(badge(page)).to_have_text("0")

    with same_page(page):
        _tab_to(page, "add-quantity")
        page.keyboard.press("ControlOrMeta+A")
        page.keyboard.type("3")
        page.keyboard.press("Tab")
        expect(page.get_by_test_id("add-to-cart")).to_be_focused()
        page.keyboard.press("Enter")
        expect(badge(page)).to_have_text("3")

        # The refreshed form is reachable again; Space activates the button too.
        _tab_to(page, "add-to-cart")
        expect(page.get_by_test_id("add-quantity")).to_have_value("1")
        page.keyboard.press("Space")
        expect(badge(page)).to_have_text("4")

    visit(page, "/cart")
    expect(cart_line(page, "DEMO-0050").get_by_test_id("line-quantity")).to_have_value("4")


def test_a_large_cart_loads_its_remaining_rows_as_the_shopper_scrolls(new_device):
    page = new_device()
    visit(page, "/")
    skus = [f"DEMO-{n:04d}" for n in range(100, 250)]
    api_add_each(page, skus)
    visit(page, "/cart")
    wait_connected(page)
    rows = page.get_by_test_id("cart-line")
    expect(rows).to_have_count(100)  # the first rows come with the page
    with same_page(page):
        # A line added elsewhere meanwhile: the badge moves at once, the row comes with the rest.
        api_add_each(page, ["DEMO-0300"])
        expect(badge(page)).to_have_text("151")
        expect(rows).to_have_count(100)
        page.locator("#more-lines").scroll_into_view_if_needed()
        expect(rows).to_have_count(151)
    assert [row.get_attribute("data-sku") for row in rows.all()] == [*skus, "DEMO-0300"]
    expect(page.locator("#more-lines")).to_have_count(0)
