"""Staff preview each email the shop sends; the dashboard shows the emails waiting."""

from __future__ import annotations

import re


def test_every_email_can_be_previewed_in_text_and_html(app, staff):
    index = staff.page("/admin/emails")
    assert index.status_code == 200
    links = re.findall(r'href="(/admin/emails/[\w-]+)"', index.get_data(as_text=True))
    assert len(links) == 10
    for link in links:
        page = staff.page(link)
        assert page.status_code == 200, link
        assert "Storefront: " in page.get_data(as_text=True)
        html = staff.page(link + "/html")
        assert html.status_code == 200 and 'style="' in html.get_data(as_text=True)
        assert "style-src 'unsafe-inline'" in html.headers["Content-Security-Policy"]
        assert "script-src" not in html.headers["Content-Security-Policy"]
    paid = staff.page("/admin/emails/order-placed-paid").get_data(as_text=True)
    assert "order 1001 is paid, thank you" in paid and "For Ada" in paid
    assert staff.page("/admin/emails/nothing-like-this").status_code == 404


def test_the_dashboard_and_the_emails_page_show_the_backlog(app, staff):
    from storefront.extensions import db
    from storefront.mail import outbox
    from storefront.mail.compose import compose

    with app.test_request_context():
        message = compose("password_reset", "a@example.com", "s", {"link": "x", "valid_minutes": 1})
        outbox.enqueue("password_reset", "k:1", message)
        db.session.commit()
    assert "1 email waiting to be sent" in staff.page("/admin").get_data(as_text=True)
    assert "1 email waiting to be sent" in staff.page("/admin/emails").get_data(as_text=True)
