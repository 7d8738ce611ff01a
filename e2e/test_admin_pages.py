"""The back office's shared pages in a browser: the dashboard's navigation reaches every
section, and the audit log and the email previews pass axe-core."""

from __future__ import annotations

from playwright.sync_api import expect

from e2e.shop import make_staff, visit
from e2e.test_accessibility import assert_accessible

SECTIONS = (
    "Dashboard",
    "Orders",
    "Products",
    "Coupons",
    "Shipping",
    "Tax",
    "Analytics",
    "Emails",
    "Audit log",
)


def test_staff_find_every_section_and_its_pages_are_accessible(new_device, shop_server, axe_source):
    staff = new_device(bypass_csp=True)  # axe is injected as a script the CSP would block
    make_staff(staff, shop_server)
    visit(staff, "/admin")
    nav = staff.get_by_role("navigation", name="Back office")
    for label in SECTIONS:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    nav.get_by_role("link", name="Audit log").click()
    expect(staff.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    expect(nav.get_by_role("link", name="Audit log")).to_have_attribute("aria-current", "page")
    assert_accessible(staff, axe_source)
    staff.get_by_label("Action starts with").fill("order")
    staff.get_by_role("button", name="Filter").click()
    expect(staff.get_by_role("status").filter(has_text="entr")).to_be_visible()
    assert_accessible(staff, axe_source)
    nav.get_by_role("link", name="Emails").click()
    assert_accessible(staff, axe_source)
    staff.get_by_role("link", name="Order placed and paid").click()
    expect(staff.get_by_test_id("email-subject")).to_have_text(
        "Storefront: order 1001 is paid, thank you"
    )
    assert_accessible(staff, axe_source)


def test_a_shopper_finds_no_back_office(new_device, shop_server):
    from e2e.shop import new_email, register

    shopper = new_device()
    register(shopper, new_email("not-staff"))
    visit(shopper, "/admin", status=404)
    expect(shopper.get_by_role("link", name="Back office")).to_have_count(0)
