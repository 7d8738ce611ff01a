"""Forgetting on purpose: cleanup, expiry notices and staying signed in."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from storefront import clock
from storefront.accounts.services import register
from storefront.cart import history, retention, services, store, views
from storefront.cart import models as m
from storefront.cart.types import Owner
from storefront.extensions import db


def count(app, model) -> int:
    with app.app_context():
        found = db.session.scalar(select(func.count()).select_from(model))
        db.session.remove()
        return found


def run_cleanup(app) -> str:
    result = app.test_cli_runner().invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    return result.output


def test_cleanup_removes_expired_guest_carts_and_keeps_fresh_and_account_carts(
    app, browser, other_browser, make_product
):
    browser.add(make_product())  # will expire
    clock.advance(timedelta(days=5))
    other_browser.add(make_product())  # fresh guest
    kept = make_product()
    with app.test_request_context():
        account = Owner.user(register("keep@example.com", "long enough pw").id)
        services.add_line(services.Request(account), kept, 1)
    clock.advance(timedelta(days=3))
    output = run_cleanup(app)
    assert "1 expired guest carts removed" in output
    assert count(app, m.Cart) == 2
    assert browser.cart()["item_count"] == 0
    assert other_browser.cart()["item_count"] == 1
    with app.test_request_context():
        assert views.view(account).item_count == 1
    assert "0 expired guest carts removed" in run_cleanup(app)  # safe to run twice


def test_cleanup_prunes_history_but_every_kept_revision_still_restores(app, make_products):
    earlier, later = make_products(9), make_products(9)
    with app.test_request_context():
        owner = Owner.user(register("long@example.com", "long enough pw").id)
        request = services.Request(owner)
        for n in range(40):
            services.add_line(request, earlier[n % 9], 1)
        clock.advance(timedelta(days=20))
        for n in range(40):
            services.add_line(request, later[n % 9], 1)
        expected = {}
        cart_id = views.glance(owner).cart_id
        for version in range(41, 81):
            expected[version] = store.state_at(cart_id, version)
        current = views.view(owner)
        db.session.remove()
    clock.advance(timedelta(days=15))  # revisions 1-40 are now 35 days old, 41-80 are 15
    output = run_cleanup(app)
    assert "40 revisions" in output
    with app.test_request_context():
        assert [e.revision for e in history.timeline(owner, limit=200)][-1] == 41
        for version, state in expected.items():
            assert store.state_at(cart_id, version) == state
        assert views.view(owner) == current  # the current cart is untouched
        assert services.restore(services.Request(owner), 41).change.after == expected[41]
    assert "0 revisions" in run_cleanup(app)


def test_cleanup_forgets_idempotency_keys_after_two_days(app, browser, make_product):
    browser.add(make_product(), **{"Idempotency-Key": "old"})
    clock.advance(timedelta(days=1))
    browser.add(make_product(), **{"Idempotency-Key": "new"})
    clock.advance(timedelta(hours=25))
    run_cleanup(app)
    assert count(app, m.IdempotencyRecord) == 1


def test_writes_during_cleanup_are_not_lost(app, make_product, make_products):
    skus, added_during_cleanup = make_products(30), make_product()
    with app.test_request_context():
        owners = [Owner.user(register(f"u{n}@example.com", "long enough pw").id) for n in range(4)]
        for owner in owners:
            for sku in skus:
                services.add_line(services.Request(owner), sku, 1)
        db.session.remove()
    clock.advance(timedelta(days=40))
    errors = []

    def shop():
        try:
            with app.test_request_context():
                for _ in range(20):
                    for owner in owners:
                        services.add_line(services.Request(owner), added_during_cleanup, 1)
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    shopper = threading.Thread(target=shop)
    shopper.start()
    with app.app_context():
        summary = retention.run(retention.plan())
        db.session.remove()
    shopper.join()
    assert not errors
    assert summary.revisions >= 4 * 30
    with app.test_request_context():
        for owner in owners:
            cart = views.view(owner)
            assert cart.item_count == 30 + 20 and cart.version == 50


def test_a_guest_sees_how_long_the_cart_is_kept_and_a_warning_in_its_last_day(
    browser, make_product
):
    clock.freeze(clock.now().replace(year=2026, month=11, day=21, hour=12, minute=0))
    browser.add(make_product())
    html = browser.page("/cart").get_data(as_text=True)
    assert "We keep this cart until 28 November" in html and "sign in</a> to keep it" in html
    clock.advance(timedelta(days=6, hours=13))
    html = browser.page("/cart").get_data(as_text=True)
    assert "This cart will be deleted on 28 November at 12:00 UTC" in html
    assert 'data-testid="cart-expiry" role="alert"' in html


def test_signed_in_carts_show_no_expiry(browser, make_product):
    browser.register("a@example.com")
    browser.add(make_product())
    assert 'data-testid="cart-expiry"' not in browser.page("/cart").get_data(as_text=True)


def test_stay_signed_in_renews_the_idle_timeout(browser, make_product):
    clock.freeze(clock.now())
    browser.register("b@example.com")
    browser.add(make_product())
    page = browser.page("/").get_data(as_text=True)
    assert 'data-session-left="1800"' in page and 'data-session-minutes="30"' in page
    clock.advance(timedelta(minutes=28))
    response = browser.form("/session/renew", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json["seconds_left"] == 1800
    clock.advance(timedelta(minutes=28))
    assert browser.cart()["item_count"] == 1  # still signed in
    browser.logout()
    response = browser.form("/session/renew", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_session_status_answers_without_renewing(browser):
    clock.freeze(clock.now())
    browser.register("c@example.com")
    clock.advance(timedelta(minutes=10))
    status = browser.page("/session/status").json
    assert status == {"signed_in": True, "seconds_left": 20 * 60}
    clock.advance(timedelta(minutes=21))
    assert browser.page("/session/status").json == {"signed_in": False, "seconds_left": 0}
