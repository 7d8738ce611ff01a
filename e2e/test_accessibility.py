"""axe-core on every kind of page: no serious or critical violations."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from e2e.shop import add_to_cart, badge, make_staff, new_email, register, visit

BLOCKING = {"serious", "critical"}


def axe_violations(page: Page, axe_source) -> list[dict]:
    page.add_script_tag(path=str(axe_source))
    return page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations;
        }"""
    )


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", "\n        ")
            if summary:
                lines.append(f"        {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more elements")
    return "\n".join(lines)


def assert_accessible(page: Page, axe_source) -> None:
    violations = axe_violations(page, axe_source)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    minor = [v for v in violations if v["impact"] not in BLOCKING]
    if minor:
        print(f"axe, minor findings on {page.url}:\n{describe(minor)}")
    assert not blocking, (
        f"axe found {len(blocking)} serious/critical violation(s) on {page.url}:\n"
        f"{describe(blocking)}"
    )


def open_page(page: Page, path: str, heading: str, status: int = 200) -> None:
    visit(page, path, status)
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)


@pytest.mark.parametrize(
    ("path", "heading", "status"),
    [
        pytest.param("/", "All products", 200, id="catalog"),
        pytest.param("/?q=mug", "Products matching", 200, id="search"),
        pytest.param("/?page=2", "All products", 200, id="catalog-page-2"),
        pytest.param("/products/DEMO-0001", "", 200, id="product-with-size"),
        pytest.param("/products/DEMO-0011", "", 200, id="product-with-engraving"),
        pytest.param("/products/DEMO-1500", "", 200, id="product-low-stock"),
        pytest.param("/cart", "Your cart", 200, id="empty-cart"),
        pytest.param("/login", "Sign in", 200, id="login"),
        pytest.param("/register", "Create an account", 200, id="register"),
        pytest.param("/checkout", "Checkout", 200, id="checkout-empty-cart"),
        pytest.param("/orders", "Your orders", 200, id="orders-none"),
        pytest.param("/products/NOPE", "Not found", 404, id="error-404"),
        pytest.param("/saved", "Saved for later", 200, id="saved-empty"),
        pytest.param("/cart/handoff", "Continue on another device", 200, id="handoff"),
        pytest.param("/h/K7MX2Q", "Continue a cart on this device?", 200, id="handoff-confirm"),
    ],
)
def test_page_has_no_serious_violations(new_device, axe_source, path, heading, status):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    open_page(page, path, heading, status)
    assert_accessible(page, axe_source)


def test_cart_with_lines_has_no_serious_violations(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0001", 2, size="L")
    add_to_cart(page, "DEMO-0011", 1, engraving="Happy birthday")
    add_to_cart(page, "DEMO-0090", 3)
    open_page(page, "/cart", "Your cart")
    expect(page.get_by_test_id("cart-line")).to_have_count(3)
    assert_accessible(page, axe_source)


def test_product_page_after_htmx_add_has_no_serious_violations(new_device, axe_source):
    """The notice and the re-rendered form that htmx swaps in are checked too."""
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0011", 1, engraving="Hi")
    expect(badge(page)).to_have_text("1")
    assert_accessible(page, axe_source)


def test_sign_in_failure_and_register_error_have_no_serious_violations(new_device, axe_source):
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    visit(page, "/login")
    page.get_by_label("Email", exact=True).fill("nobody@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("notice")).to_contain_text("do not match")
    assert_accessible(page, axe_source)

    visit(page, "/register")
    page.get_by_label("Email", exact=True).fill("not-an-email@nowhere")
    page.get_by_label("Password").fill("longenough")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("alert")).to_contain_text("valid email")
    assert_accessible(page, axe_source)


def test_back_office_analytics_has_no_serious_violations(new_device, shop_server, axe_source):
    """The analytics page with its charts drawn and the tables beside them."""
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(page, shop_server)
    add_to_cart(page, "DEMO-0090", 2)  # today is not empty: charts and tables are on the page
    open_page(page, "/admin/analytics", "Analytics")
    expect(page.locator('canvas[data-chart="sales"]')).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("analytics-sales-table")).to_be_visible()
    assert_accessible(page, axe_source)


def test_sharing_pages_have_no_serious_violations(new_device, axe_source):
    """The cart's sharing panel, the invitation link page, the confirmation page, the cart
    shared, and a refused link."""
    owner = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    member = new_device(bypass_csp=True)
    register(owner, new_email("sam"))
    add_to_cart(owner, "DEMO-0090", 1)
    open_page(owner, "/cart", "Your cart")
    expect(owner.get_by_test_id("share-invite")).to_be_visible()
    assert_accessible(owner, axe_source)
    owner.get_by_test_id("share-invite").click()  # htmx: the link replaces the panel
    expect(owner.get_by_test_id("share-link")).to_be_visible()
    assert_accessible(owner, axe_source)
    link = owner.get_by_test_id("share-link").input_value()

    register(member, new_email("alex"))
    visit(member, link)
    expect(member.get_by_test_id("share-accept")).to_be_visible()
    assert_accessible(member, axe_source)
    member.get_by_test_id("share-accept").click()
    expect(member.get_by_test_id("share-status")).to_be_visible()
    assert_accessible(member, axe_source)

    visit(owner, link, 409)
    expect(owner.get_by_test_id("share-refusal")).to_be_visible()
    assert_accessible(owner, axe_source)


def test_handoff_saved_and_moment_pages_have_no_serious_violations(new_device, axe_source):
    """Issue 15's pages: "continue on another device" (its QR code and code), the link's
    confirmation, a refused code, the saved list with a line, the history page showing a
    moment, and a refused moment."""
    page = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    add_to_cart(page, "DEMO-0011", 1, engraving="Hi")
    add_to_cart(page, "DEMO-0090", 2)
    open_page(page, "/cart/handoff", "Continue on another device")
    expect(page.get_by_test_id("handoff-qr")).to_be_visible()
    assert_accessible(page, axe_source)
    code = page.get_by_test_id("handoff-code").inner_text()

    other = new_device(bypass_csp=True)
    open_page(other, f"/h/{code}", "Continue a cart on this device?")
    assert_accessible(other, axe_source)
    visit(other, "/cart/handoff")
    other.get_by_label("Code shown on your other device").fill("ZZZZZZ")
    other.get_by_test_id("handoff-join").click()
    expect(other.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(other, axe_source)

    open_page(page, "/cart", "Your cart")
    saving = page.locator('[data-testid="cart-line"][data-sku="DEMO-0090"]')
    saving.get_by_test_id("line-save").click()
    expect(saving).to_have_count(0)  # saved: leaving now would cancel the request
    open_page(page, "/saved", "Saved for later")
    expect(page.get_by_test_id("saved-line")).to_have_count(1)
    assert_accessible(page, axe_source)
    open_page(page, "/cart", "Your cart")
    expect(page.get_by_test_id("saved-line")).to_have_count(1)
    assert_accessible(page, axe_source)

    open_page(page, "/cart/history", "Your cart's history")
    page.get_by_label("Date and time", exact=False).fill(
        page.get_by_test_id("history-at").get_attribute("max")
    )
    page.get_by_test_id("history-at-show").click()
    expect(page.get_by_test_id("history-moment")).to_be_visible()
    assert_accessible(page, axe_source)
    open_page(page, "/cart/history?at=2999-01-01T10:00", "Your cart's history", 422)
    expect(page.get_by_role("alert")).to_contain_text("in the future")
    assert_accessible(page, axe_source)
