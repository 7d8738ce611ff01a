"""The emails of an order's life, each once, through a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storefront import clock, jobs
from storefront.extensions import db
from storefront.orders import payments
from storefront.orders import services as orders
from tests.helpers import Browser
from tests.mailbox import parts
from tests.test_order_lifecycle import place, ready

SHOPPER, OWNER = "ada@example.com", "owner@shop.example"


@pytest.fixture
def settings(mailbox):
    return {
        "STOREFRONT_PAYMENT_PROVIDERS": "manual,test",
        "STOREFRONT_SMTP_URL": mailbox.url,
        "STOREFRONT_OWNER_EMAIL": OWNER,
        "STOREFRONT_MANUAL_PAYMENT_INSTRUCTIONS": "Pay to IBAN XX00 1234 within a week.",
    }


def run_jobs(app, times=2):
    with app.app_context():
        for _ in range(times):
            jobs.run_once()


def subjects(mailbox, to=SHOPPER):
    return [m["Subject"] for m in mailbox.messages_to(to)]


def test_an_order_paid_at_once_gets_one_email_saying_so_and_the_owner_a_note(
    app, browser, sample_catalog, mailbox
):
    from tests.factories import PLAIN

    ready(browser, PLAIN)
    response = place(browser, "test", "tok_ok_visa")
    assert response.status_code == 201, response.json
    number = response.json["order"]["number"]
    run_jobs(app)
    assert subjects(mailbox) == [f"Storefront: order {number} is paid, thank you"]
    text, html = parts(mailbox.messages_to(SHOPPER)[0])
    assert f"http://127.0.0.1:8000/orders/{number}" in text and "Total: $" in text
    assert response.json["order"]["total"] in text and "See your order" in html
    # A guest's link opens the order on any device: it carries its own signed key.
    link = re.search(r"http://127\.0\.0\.1:8000(/orders/\S+)", text).group(1)
    elsewhere = Browser(app.test_client()).page(link)
    assert elsewhere.status_code == 200 and f">{number}<" in elsewhere.get_data(as_text=True)
    assert Browser(app.test_client()).page(f"/orders/{number}").status_code == 404
    assert subjects(mailbox, OWNER) == [f"Storefront: new order {number}"]


def test_a_manual_order_gets_its_instructions_then_paid_then_nothing_twice(
    app, browser, sample_catalog, mailbox
):
    from tests.factories import PLAIN

    ready(browser, PLAIN)
    number = place(browser, "manual").json["order"]["number"]
    run_jobs(app)
    [placed] = mailbox.messages_to(SHOPPER)
    assert "Pay to IBAN XX00 1234" in parts(placed)[0]
    with app.app_context():
        order = orders.by_number(number)
        assert payments.mark_paid(order)
        db.session.commit()
        assert not payments.mark_paid(orders.by_number(number))  # paid already: no second email
        db.session.commit()
    run_jobs(app)
    assert subjects(mailbox) == [
        f"Storefront: order {number} received",
        f"Storefront: payment received for order {number}",
    ]


def test_an_unpaid_order_that_expires_is_told_it_is_cancelled(
    app, browser, sample_catalog, mailbox
):
    from tests.factories import PLAIN

    ready(browser, PLAIN)
    number = place(browser, "manual").json["order"]["number"]
    clock.advance(timedelta(days=8))
    run_jobs(app)
    assert subjects(mailbox) == [
        f"Storefront: order {number} received",
        f"Storefront: order {number} is cancelled",
    ]


def test_a_declined_payment_sends_nothing(app, browser, sample_catalog, mailbox):
    from tests.factories import PLAIN

    ready(browser, PLAIN)
    assert place(browser, "test", "tok_declined").status_code == 402
    run_jobs(app)
    assert mailbox.received == []


def test_staff_actions_email_the_shopper_once_each(app, browser, staff, sample_catalog, mailbox):
    from tests.factories import PLAIN

    ready(browser, PLAIN)
    number = place(browser, "test", "tok_ok_visa").json["order"]["number"]
    act = lambda action, body=None: staff.api(  # noqa: E731
        "POST", f"/admin/orders/{number}/{action}", json=body or {}
    )
    assert act("fulfil", {"tracking": "DHL 123"}).status_code == 200
    assert act("fulfil").status_code == 409  # not twice
    assert act("refund", {"amount": "1.00", "restock": False}).status_code == 200
    assert act("refund", {"amount": "2.00", "restock": False}).status_code == 200
    run_jobs(app)
    assert subjects(mailbox) == [
        f"Storefront: order {number} is paid, thank you",
        f"Storefront: order {number} is on its way",
        f"Storefront: a refund for order {number}",
        f"Storefront: a refund for order {number}",
    ]
    fulfilled, first_refund = mailbox.messages_to(SHOPPER)[1:3]
    assert "Tracking: DHL 123" in parts(fulfilled)[0]
    assert "We have refunded $1.00" in parts(first_refund)[0]


def test_the_owner_hears_once_when_an_order_takes_a_product_down_to_low_stock(
    app, browser, make_product, mailbox
):
    sku = make_product(name="Last Lamp", stock=7)
    ready(browser, sku, 2)  # 7 -> 5: at the mark (STOREFRONT_LOW_STOCK, 5)
    place(browser, "test", "tok_ok_visa")
    ready(browser, sku, 1)  # 5 -> 4: already low, no second note
    place(browser, "test", "tok_ok_visa")
    run_jobs(app)
    notes = [m for m in mailbox.messages_to(OWNER) if "running low" in m["Subject"]]
    assert [m["Subject"] for m in notes] == ["Storefront: 1 product running low"]
    assert "Last Lamp" in parts(notes[0])[0] and "5 left" in parts(notes[0])[0]
