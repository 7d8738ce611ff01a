"""Email as a shopper meets it, through a real SMTP server on loopback: a forgotten password
reset from the emailed link (every other device signed out), and a cart reminder whose link,
opened on another device, shows what changed and brings the cart back.

The reminder needs the cart to sit idle for a real minute (the shortest
STOREFRONT_ABANDONED_CART_MINUTES): that wait is the behaviour under test, not a wait for a push.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from e2e.conftest import ARTIFACTS, SHOP_ENV, LiveServer, device_factory
from e2e.shop import PASSWORD, add_to_cart, cart_contents, new_email, register, sign_in, visit
from e2e.test_accessibility import assert_accessible
from tests.mailbox import Mailbox, parts

MAIL_WAIT_S = 90


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, mailbox):
    env = {
        **SHOP_ENV,
        "STOREFRONT_SMTP_URL": mailbox.url,
        "STOREFRONT_ABANDONED_CART_MINUTES": "1",
    }
    server = LiveServer(
        tmp_path_factory.mktemp("mailshop"), ARTIFACTS / "mail-gunicorn.log", env=env
    )
    server.prepare()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def device(request, browser, mail_server):
    with device_factory(request, browser, mail_server.url, [mail_server]) as open_device:
        yield open_device


def wait_for_mail(mailbox: Mailbox, to: str, count: int = 1):
    """The web process sends queued mail by itself; the message arrives when it arrives."""
    deadline = time.monotonic() + MAIL_WAIT_S
    while time.monotonic() < deadline:
        found = mailbox.messages_to(to)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.1)
    raise AssertionError(f"no email #{count} to {to} within {MAIL_WAIT_S} s")


def local_path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def test_forgotten_password_reset_by_email_signs_out_every_other_device(
    device, mailbox, axe_source
):
    email = new_email("reset")
    laptop = device()
    phone = device(bypass_csp=True)  # axe is injected as a script the CSP would block
    register(laptop, email)
    visit(phone, "/login")
    phone.get_by_role("link", name="Forgot your password?").click()
    assert_accessible(phone, axe_source)
    phone.get_by_label("Email", exact=True).fill(email)
    phone.get_by_role("button", name="Send the link").click()
    expect(phone.get_by_test_id("reset-sent")).to_contain_text("If an account uses that address")
    text, _ = parts(wait_for_mail(mailbox, email))
    link = re.search(r"(https?://\S+/password/reset/\S+)", text).group(1)
    visit(phone, local_path(link))
    assert_accessible(phone, axe_source)
    phone.get_by_label("New password", exact=True).fill("a fresh new password")
    phone.get_by_label("New password, again").fill("a fresh new password")
    phone.get_by_role("button", name="Set the new password").click()
    expect(phone.get_by_text("Your password is changed")).to_be_visible()
    visit(laptop, "/account")
    expect(laptop.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out there
    sign_in(phone, email, "a fresh new password")
    visit(phone, local_path(link), status=400)
    expect(phone.get_by_test_id("reset-refused")).to_contain_text("already used")


def test_a_cart_reminder_link_on_another_device_shows_changes_and_brings_the_cart_back(
    device, mail_server, mailbox, axe_source, tmp_path: Path
):
    email = new_email("remind")
    laptop = device()
    visit(laptop, "/register")
    laptop.get_by_label("Email", exact=True).fill(email)
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_label("Email me once if I leave items in my cart").check()
    laptop.get_by_role("button", name="Create account").click()
    expect(laptop.get_by_text(f"Signed in as {email}")).to_be_visible()
    add_to_cart(laptop, "DEMO-0021", 2)
    add_to_cart(laptop, "DEMO-0022", 1)
    laptop.close()  # the shopper leaves
    message = wait_for_mail(mailbox, email)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, _ = parts(message)
    link = local_path(re.search(r"(https?://\S+/cart/reminder/\S+)", text).group(1))
    # Meanwhile the shop changed the price of one of them.
    prices = tmp_path / "prices.csv"
    prices.write_text("sku,name,price,stock\nDEMO-0021,Reminder Mug,1.23,50\n")
    mail_server.flask("import-products", str(prices))
    phone = device(bypass_csp=True)  # axe is injected as a script the CSP would block
    visit(phone, link)
    expect(phone.get_by_role("heading", name="Sign in")).to_be_visible()
    phone.get_by_label("Email", exact=True).fill(email)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Sign in").click()
    visit(phone, link)
    rows = phone.get_by_test_id("reminder-line")
    expect(rows).to_have_count(2)
    expect(phone.locator('[data-sku="DEMO-0021"]')).to_contain_text(
        re.compile(r"now \$1\.23, was \$")
    )
    assert_accessible(phone, axe_source)
    phone.get_by_test_id("reminder-restore").click()
    expect(phone.get_by_test_id("notice")).to_contain_text("Your cart is back as it was")
    assert cart_contents(phone) == {"DEMO-0021": 2, "DEMO-0022": 1}
