"""The back office's guard, over every route it has: staff get in; a guest is sent to sign in
(pages) or told there is nothing there (JSON); a shopper and a support agent see only 404.
Routes are read from the app's URL map, so a page added later is covered without listing it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import STAFF_EMAIL
from tests.helpers import Browser

SHOPPER, AGENT = "shopper@example.com", "agent@example.com"


@pytest.fixture
def people(app, staff):
    shopper = Browser(app.test_client())
    shopper.register(SHOPPER)
    agent = Browser(app.test_client())
    agent.register(AGENT)
    assert app.test_cli_runner().invoke(args=["users", "grant-support", AGENT]).exit_code == 0
    guest = Browser(app.test_client())
    guest.page("/")
    return {"guest": guest, "shopper": shopper, "support": agent, "staff": staff}


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) under /admin and /api/v1/admin, parameters filled with values no
    row has (the guard answers before anything is looked up)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/admin") or rule.rule.startswith("/api/v1/admin")):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x1", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_every_admin_route_is_covered_and_hidden(app, people):
    routes = admin_routes(app)
    assert ("GET", "/admin") in routes and ("GET", "/admin/audit") in routes
    for method, path in routes:
        is_api = path.startswith("/api/")
        for role in ("guest", "shopper", "support"):
            who = people[role]
            response = who.client.open(
                path,
                method=method,
                headers=who.headers({"Accept": "text/html"}),
                data={"csrf_token": who.csrf} if method != "GET" and not is_api else None,
                json={} if method != "GET" and is_api else None,
            )
            if role == "guest" and not is_api:
                assert response.status_code == 302, (role, method, path, response.status_code)
                assert response.headers["Location"].startswith("/login?next=")
            else:
                assert response.status_code == 404, (role, method, path, response.status_code)
                if is_api:
                    assert response.json["error"]["code"] == "not_found"


def test_staff_reach_the_back_office_and_shoppers_see_no_link(app, people):
    page = people["staff"].page("/admin")
    assert page.status_code == 200
    assert "Back office" in people["staff"].page("/").get_data(as_text=True)
    assert 'href="/admin"' not in people["shopper"].page("/").get_data(as_text=True)
    assert people["staff"].page("/admin/audit").status_code == 200


def test_sign_in_brings_staff_back_to_the_page_they_asked_for(app):
    staff = Browser(app.test_client())
    staff.register(STAFF_EMAIL)
    app.test_cli_runner().invoke(args=["users", "grant-staff", STAFF_EMAIL])
    staff.logout()
    response = staff.page("/admin/audit?action=product")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/audit?action%3Dproduct"


def test_revoked_staff_lose_the_back_office(app, staff):
    result = app.test_cli_runner().invoke(args=["users", "revoke-staff", STAFF_EMAIL])
    assert result.exit_code == 0 and "staff role revoked" in result.output
    assert staff.page("/admin").status_code == 404
    result = app.test_cli_runner().invoke(args=["users", "grant-staff", "nobody@example.com"])
    assert result.exit_code != 0


def test_audit_log_lists_filters_and_pages(app, staff):
    from storefront.accounts.models import User
    from storefront.admin import audit
    from storefront.extensions import db

    with app.app_context():
        user = db.session.query(User).filter_by(email=STAFF_EMAIL).one()
        for number in range(60):
            audit.record(
                user, "product.update", f"SKU-{number}", {"price": "1.00"}, {"price": "2.00"}
            )
        audit.record(user, "order.cancel", "1001", {"status": "paid"}, {"status": "cancelled"})
        db.session.commit()
    page = staff.page("/admin/audit").get_data(as_text=True)
    assert "61 entries, page 1 of 2" in page
    assert "order.cancel" in page and "status: paid → cancelled" in page
    filtered = staff.page("/admin/audit?action=order").get_data(as_text=True)
    assert "1 entry" in filtered and "product.update" not in filtered
    by_subject = staff.page("/admin/audit?subject=SKU-59").get_data(as_text=True)
    assert "1 entry" in by_subject and "price: 1.00 → 2.00" in by_subject
    assert "Older" in staff.page("/admin/audit").get_data(as_text=True)
    assert "0 entries" in staff.page("/admin/audit?since=2999-01-01").get_data(as_text=True)
    assert staff.page("/admin/audit?since=garbage&page=-4").status_code == 200


def test_changed_keeps_only_what_differs():
    from storefront.admin.audit import changed

    assert changed({"a": 1, "b": 2}, {"a": 1, "b": 3}) == ({"b": 2}, {"b": 3})
