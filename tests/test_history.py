"""Every change is a revision: the timeline, restore, undo of a merge, and who may do what."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storefront import clock
from tests.helpers import Browser

EMAIL = "grace@example.com"


def lines(cart: dict) -> list[tuple]:
    return [(x["sku"], x["quantity"], x["options"]) for x in cart["lines"]]


def restore(browser, revision, **headers):
    return browser.api("POST", "/cart/restore", json={"revision": revision}, headers=headers)


def test_history_lists_revisions_newest_first_with_what_when_and_where(browser, make_product):
    honey_mug = make_product(name="Honey Mug")
    browser.add(honey_mug, 2)
    browser.add(make_product(name="Blue Mug", options="size:S|M|L|XL!"), 1, {"size": "M"})
    line_id = browser.line_id(honey_mug)
    browser.api("PATCH", f"/cart/lines/{line_id}", json={"quantity": 5})
    browser.api("DELETE", f"/cart/lines/{line_id}")
    browser.api("DELETE", "/cart")
    revisions = browser.api("GET", "/cart/history").json["revisions"]
    assert [r["revision"] for r in revisions] == [5, 4, 3, 2, 1]
    assert [r["summary"] for r in revisions] == [
        "Emptied the cart",
        "Removed Honey Mug",
        "Honey Mug: quantity set to 5",
        "Added 1 × Blue Mug (size: M)",
        "Added 2 × Honey Mug",
    ]
    assert {r["source"] for r in revisions} == {"change"}
    assert {r["device"] for r in revisions} == {"Chrome on Linux"}
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["at"]) for r in revisions)


def test_history_pages_with_before_and_limit(browser, make_products):
    for sku in make_products(7):
        browser.add(sku)
    page = browser.api("GET", "/cart/history?limit=3").json["revisions"]
    assert [r["revision"] for r in page] == [7, 6, 5]
    older = browser.api("GET", "/cart/history?limit=3&before=5").json["revisions"]
    assert [r["revision"] for r in older] == [4, 3, 2]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "before=-1", "before=abc"])
def test_history_refuses_bad_paging(browser, query):
    response = browser.api("GET", f"/cart/history?{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"


def test_restore_brings_back_exactly_that_cart_as_a_new_revision(browser, make_product):
    browser.add(make_product(), 2)
    browser.add(make_product(options="engraving:text(40)"), 1, {"engraving": "Ada"})
    at_two = browser.cart()
    browser.api("DELETE", "/cart")
    later = make_product()
    browser.add(later, 4)
    response = restore(browser, 2)
    assert response.status_code == 200
    cart = response.json
    assert lines(cart) == lines(at_two) and cart["unrestored"] == []
    assert [x["id"] for x in cart["lines"]] == [x["id"] for x in at_two["lines"]]
    assert cart["version"] == 5
    newest = browser.api("GET", "/cart/history?limit=1").json["revisions"][0]
    assert newest["source"] == "restore" and "revision 2" in newest["summary"]
    # A restore is itself a revision, so it can be undone.
    assert lines(restore(browser, 4).json) == [(later, 4, {})]


def test_restore_reports_lines_that_cannot_come_back(app, browser, make_product):
    retired, scarce, sold_out = make_product(), make_product(), make_product()
    browser.add(retired, 2)
    browser.add(scarce, 5)
    browser.add(sold_out, 1)
    browser.api("DELETE", "/cart")
    with app.app_context():
        from storefront.catalog.services import by_sku
        from storefront.extensions import db

        by_sku(retired).active = False
        by_sku(scarce).stock = 3
        by_sku(sold_out).stock = 0
        db.session.commit()
    cart = restore(browser, 3).json
    assert lines(cart) == [(scarce, 3, {})]
    assert cart["unrestored"] == [
        {"sku": retired, "reason": "retired", "requested": 2, "kept": 0},
        {"sku": scarce, "reason": "stock", "requested": 5, "kept": 3},
        {"sku": sold_out, "reason": "sold_out", "requested": 1, "kept": 0},
    ]


@pytest.mark.parametrize("revision", [99, -1, 2**40, "1", 1.0, None, True])
def test_restore_refuses_revisions_that_are_not_this_carts(browser, make_product, revision):
    browser.add(make_product(), 2)
    before = browser.cart()
    response = restore(browser, revision)
    assert response.status_code in (400, 404)
    assert browser.cart() == before


def test_another_shoppers_revisions_are_not_found(browser, other_browser, make_product):
    other_browser.add(make_product(), 1)
    other_browser.add(make_product(), 1)
    browser.add(make_product(), 1)
    response = restore(browser, 2)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert other_browser.cart()["version"] == 2


def test_revisions_older_than_the_history_window_cannot_be_restored(app, make_product):
    from storefront.accounts.services import register
    from storefront.cart import history, services
    from storefront.cart.types import Owner
    from storefront.errors import NotFound

    old, new = make_product(), make_product()
    with app.test_request_context():
        owner = Owner.user(register(EMAIL, "long enough pw").id)
        request = services.Request(owner)
        services.add_line(request, old, 1)
        clock.advance(timedelta(days=31))
        services.add_line(request, new, 1)
        with pytest.raises(NotFound):
            services.restore(request, 1)
        assert [e.revision for e in history.timeline(owner)] == [2]
        assert services.restore(request, 2).change.version == 3


def test_restore_honours_idempotency_keys_and_if_match(browser, make_product):
    browser.add(make_product())
    browser.add(make_product())
    first = restore(browser, 1, **{"Idempotency-Key": "r-1"})
    again = restore(browser, 1, **{"Idempotency-Key": "r-1"})
    assert again.json["version"] == first.json["version"] == 3
    assert restore(browser, 1, **{"If-Match": '"2"'}).status_code == 412


def test_the_history_page_lists_entries_with_restore_buttons(browser, make_product):
    first = make_product()
    browser.add(first, 2)
    browser.add(make_product(), 1)
    html = browser.page("/cart/history").get_data(as_text=True)
    assert re.findall(r'data-testid="history-entry" data-revision="(\d+)"', html) == ["2", "1"]
    assert html.count('data-testid="history-restore"') == 2
    response = browser.form("/cart/restore", {"revision": "1"})
    assert response.status_code == 302 and response.location.endswith("/cart")
    assert lines(browser.cart()) == [(first, 2, {})]
    assert "back as it was at revision 1" in browser.page("/cart").get_data(as_text=True)


def test_the_merge_notice_offers_an_undo_that_restores_the_cart_before_the_merge(
    app, browser, make_product
):
    in_both, guest_only = make_product(), make_product()
    account = Browser(app.test_client())
    account.register(EMAIL)
    account.add(in_both, 1)
    account.logout()
    browser.add(in_both, 2)
    browser.add(guest_only, 1)
    browser.form("/login", {"email": EMAIL, "password": "correct horse battery"})
    html = browser.page("/cart").get_data(as_text=True)
    undo_to = re.search(
        r'name="revision" value="(\d+)">\s*<button[^>]*data-testid="merge-undo"', html
    )
    assert undo_to and undo_to.group(1) == "1"
    assert browser.cart()["item_count"] == 4
    browser.form("/cart/restore", {"revision": undo_to.group(1)})
    assert lines(browser.cart()) == [(in_both, 1, {})]


# --- restoring revision k gives the cart after the k-th change ----------------------------

ONE, TWO, SCARCE = "ONE", "TWO", "SCARCE"  # made by the ``shelf`` fixture

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from([ONE, TWO, SCARCE]),
            st.integers(1, 3),
        ),
        st.tuples(st.just("set"), st.integers(0, 4), st.integers(0, 4)),
        st.tuples(st.just("remove"), st.integers(0, 4), st.just(0)),
        st.tuples(st.just("clear"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def shelf(make_product):
    make_product(ONE)
    make_product(TWO)
    make_product(SCARCE, stock=3)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_restoring_revision_k_equals_the_cart_after_the_kth_change(app, shelf, ops):
    shopper = Browser(app.test_client())
    after = {0: []}
    for kind, a, b in ops:
        cart = shopper.cart()
        if kind == "add":
            response = shopper.add(a, b)
        elif kind == "clear":
            response = shopper.api("DELETE", "/cart")
        elif cart["lines"]:
            line = cart["lines"][a % len(cart["lines"])]["id"]
            if kind == "set":
                response = shopper.api("PATCH", f"/cart/lines/{line}", json={"quantity": b})
            else:
                response = shopper.api("DELETE", f"/cart/lines/{line}")
        else:
            continue
        if response.status_code == 200:
            after[response.json["version"]] = lines(response.json)
    for revision in sorted(after):
        if revision == 0 and len(after) == 1:
            continue
        restored = restore(shopper, revision).json
        assert lines(restored) == after[revision], revision


# --- who may see and restore ---------------------------------------------------------------


def test_support_is_forbidden_to_guests_and_shoppers(app, browser):
    assert browser.page("/support").status_code == 403
    assert browser.form("/support/restore", {"user_id": "1", "revision": "1"}).status_code == 403
    browser.register("shopper@example.com")
    assert browser.page("/support").status_code == 403
    assert browser.page("/support?email=shopper@example.com").status_code == 403


def _customer_with_an_emptied_cart_and_an_agent(app, sku: str) -> tuple[Browser, Browser]:
    customer = Browser(app.test_client())
    customer.register(EMAIL)
    customer.add(sku, 2)
    customer.api("DELETE", "/cart")
    agent = Browser(app.test_client())
    agent.register("help@example.com")
    return customer, agent


def test_support_finds_a_shopper_sees_the_timeline_restores_and_is_audited(
    app, browser, make_product
):
    sku = make_product()
    customer, agent = _customer_with_an_emptied_cart_and_an_agent(app, sku)
    result = app.test_cli_runner().invoke(args=["users", "grant-support", "help@example.com"])
    assert result.exit_code == 0 and "granted" in result.output
    html = agent.page(f"/support?email={EMAIL}").get_data(as_text=True)
    assert re.findall(r'data-testid="history-entry" data-revision="(\d+)"', html) == ["2", "1"]
    user_id = re.search(r'name="user_id" value="(\d+)"', html).group(1)
    response = agent.form("/support/restore", {"user_id": user_id, "revision": "1"})
    assert response.status_code == 302
    assert lines(customer.cart()) == [(sku, 2, {})]
    newest = customer.api("GET", "/cart/history?limit=1").json["revisions"][0]
    assert newest["source"] == "support" and newest["device"] == "customer support"
    audit = agent.page("/support").get_data(as_text=True)
    assert "restored revision 1 as revision 3" in audit and "help@example.com" in audit
    assert "viewed the cart&#39;s timeline" in audit or "viewed the cart's timeline" in audit
    revoked = app.test_cli_runner().invoke(args=["users", "revoke-support", "help@example.com"])
    assert revoked.exit_code == 0
    assert agent.page("/support").status_code == 403


def test_a_support_restore_and_its_audit_row_commit_together(
    app, browser, monkeypatch, make_product
):
    from storefront.support import models as support_models
    from storefront.support.models import SupportAction

    customer, agent = _customer_with_an_emptied_cart_and_an_agent(app, make_product())
    app.test_cli_runner().invoke(args=["users", "grant-support", "help@example.com"])
    html = agent.page(f"/support?email={EMAIL}").get_data(as_text=True)
    user_id = re.search(r'name="user_id" value="(\d+)"', html).group(1)

    def audit_row_fails(*args, **kwargs):
        raise RuntimeError("the audit log is unavailable")

    # The audit row cannot be written: the restore must not happen either.
    monkeypatch.setattr("storefront.support.services.SupportAction", audit_row_fails)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert agent.form("/support/restore", {"user_id": user_id, "revision": "1"}).status_code == 500
    assert customer.cart()["version"] == 2 and customer.cart()["lines"] == []
    with app.app_context():
        from storefront.extensions import db

        actions = db.session.query(SupportAction.action).all()
        assert [a for (a,) in actions] == ["view_history"]  # no restore recorded either
    monkeypatch.setattr("storefront.support.services.SupportAction", support_models.SupportAction)
    assert agent.form("/support/restore", {"user_id": user_id, "revision": "1"}).status_code == 302
    assert customer.cart()["version"] == 3
    assert "restored revision 1 as revision 3" in agent.page("/support").get_data(as_text=True)


def test_support_restore_refuses_unknown_shoppers_and_revisions(app, browser):
    agent = Browser(app.test_client())
    agent.register("help@example.com")
    app.test_cli_runner().invoke(args=["users", "grant-support", "help@example.com"])
    assert agent.form("/support/restore", {"user_id": "999", "revision": "1"}).status_code == 404
    assert agent.form("/support/restore", {"user_id": "x", "revision": "1"}).status_code == 400
    assert "No account has the email" in agent.page("/support?email=no@x.org").get_data(
        as_text=True
    )


def test_users_commands_report_unknown_emails(app):
    result = app.test_cli_runner().invoke(args=["users", "grant-support", "nobody@example.com"])
    assert result.exit_code != 0 and "no account" in result.output


def test_reset_password_reads_stdin_and_ends_existing_sessions(app, browser, make_product):
    browser.register(EMAIL)
    browser.add(make_product())
    result = app.test_cli_runner().invoke(
        args=["users", "reset-password", EMAIL], input="a brand new password\n"
    )
    assert result.exit_code == 0, result.output
    assert browser.cart()["item_count"] == 0  # signed out everywhere
    other = Browser(app.test_client())
    assert other.login(EMAIL, "a brand new password").status_code == 302
    assert other.cart()["item_count"] == 1
    short = app.test_cli_runner().invoke(args=["users", "reset-password", EMAIL], input="x\n")
    assert short.exit_code != 0
