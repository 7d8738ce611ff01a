"""The back office's rules pages: coupons, shipping methods and tax rates listed with their usage,
created, edited and switched off or on, each change in the audit log; what staff change is what
the next checkout offers; and hostile values are refused with a reason, changing nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from storefront.admin.models import StaffAction
from storefront.checkout import editing, rules
from storefront.checkout.models import Coupon, ShippingMethod, TaxRate
from storefront.errors import InvalidRule
from storefront.extensions import db

ADDRESS = {
    "name": "Ada Lovelace",
    "address_line1": "12 Analytical Row",
    "city": "London",
    "postal_code": "N1 1AA",
    "country": "GB",
}
COUPON = {
    "code": "spring-5",
    "kind": "fixed",
    "value": "5.00",
    "min_subtotal": "20.00",
    "starts_at": "",
    "ends_at": "",
    "usage_limit": "3",
}
METHOD = {
    "id": "express",
    "name": "Express",
    "price": "12.50",
    "free_from": "",
    "countries": "gb, fr",
    "needs_address": "on",
    "position": "0",
}


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test,manual"}


def checkout(browser, sku, **details):
    if not browser.cart()["lines"]:
        assert browser.add(sku, 3).status_code == 200
    body = {"email": "ada@example.com", "address": ADDRESS, **details}
    response = browser.api("PUT", "/checkout", json=body)
    if details.get("coupon") is None or response.status_code != 422:
        assert response.status_code == 200, response.json
    return response


def audit_entries(app, action):
    with app.app_context():
        rows = db.session.scalars(select(StaffAction).where(StaffAction.action == action)).all()
        return [(r.subject, json.loads(r.before), json.loads(r.after)) for r in rows]


def snapshot(app):
    """Everything a refused change must leave as it was."""
    with app.app_context():
        tables = (Coupon, ShippingMethod, TaxRate)
        return {
            "rows": [
                sorted(repr(sorted(vars(r).items())[1:]) for r in db.session.scalars(select(t)))
                for t in tables
            ],
            "audit": db.session.scalar(select(func.count()).select_from(StaffAction)),
        }


# --- coupons -----------------------------------------------------------------------------------


def test_coupons_are_listed_with_their_usage(app, staff, browser, make_product):
    sku = make_product(price="10.00")
    checkout(browser, sku, shipping_method="standard", coupon="WELCOME10")
    body = {"payment": {"provider": "test", "token": "tok_ok"}}
    placed = browser.api("POST", "/checkout/complete", json=body)
    assert placed.status_code == 201, placed.json
    page = staff.page("/admin/coupons").get_data(as_text=True)
    assert 'data-code="WELCOME10"' in page and "10 % off" in page
    assert "1 (no limit)" in page and ">On<" in page


def test_staff_create_a_coupon_and_a_shopper_can_use_it(app, staff, browser, make_product):
    assert staff.page("/admin/coupons/new").status_code == 200
    response = staff.form("/admin/coupons", {**COUPON, "once_per_customer": "on"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/coupons"
    listed = staff.page("/admin/coupons").get_data(as_text=True)
    assert "Coupon SPRING-5 created." in listed and "0 of 3" in listed
    [(subject, before, after)] = audit_entries(app, "coupon.create")
    assert subject == "SPRING-5" and before == {}
    assert after["amount"] == "5.00" and after["usage_limit"] == 3 and after["once_per_customer"]

    priced = checkout(browser, make_product(price="10.00"), coupon="spring-5")
    assert priced.status_code == 200 and priced.json["discount"] == "5.00"


def test_an_edit_is_saved_and_logged_before_and_after(app, staff, browser, make_product):
    staff.form("/admin/coupons", COUPON)
    edit = staff.page("/admin/coupons/spring-5").get_data(as_text=True)
    assert 'value="5.00"' in edit and 'value="20.00"' in edit
    changed = {**COUPON, "kind": "percent", "value": "25", "ends_at": "2999-01-01T00:00"}
    assert staff.form("/admin/coupons/SPRING-5", changed).status_code == 302
    [(subject, before, after)] = audit_entries(app, "coupon.update")
    assert subject == "SPRING-5"
    assert before == {"kind": "fixed", "amount": "5.00", "percent": None, "ends_at": None}
    assert after == {
        "kind": "percent",
        "amount": None,
        "percent": "25",
        "ends_at": "2999-01-01T00:00:00+00:00",
    }
    priced = checkout(browser, make_product(price="10.00"), coupon="SPRING-5")
    assert priced.json["discount"] == "7.50"
    # Saving it unchanged writes no entry: the log says what changed.
    staff.form("/admin/coupons/SPRING-5", changed)
    assert len(audit_entries(app, "coupon.update")) == 1


def test_a_switched_off_coupon_is_refused_at_checkout_until_switched_on(
    app, staff, browser, make_product
):
    sku = make_product(price="10.00")
    response = staff.form("/admin/coupons/WELCOME10/active", {"active": "0"})
    assert response.status_code == 302
    assert ">Off<" in staff.page("/admin/coupons").get_data(as_text=True)
    refused = checkout(browser, sku, coupon="WELCOME10")
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_coupon"
    assert audit_entries(app, "coupon.disable") == [
        ("WELCOME10", {"active": True}, {"active": False})
    ]
    row = staff.form("/admin/coupons/WELCOME10/active", {"active": "1"}, htmx=True)
    assert row.status_code == 200 and row.get_data(as_text=True).lstrip().startswith("<tr")
    assert "Switch off" in row.get_data(as_text=True)
    assert checkout(browser, sku, coupon="WELCOME10").json["discount"] == "3.00"


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"value": "-5"}, 422, "cannot be negative"),
        ({"value": "99999999999"}, 422, "too large"),
        ({"value": "5.001"}, 422, "2 decimal places"),
        ({"kind": "percent", "value": "101"}, 422, "from 0 to 100"),
        ({"kind": "percent", "value": "NaN"}, 422, "percent"),
        ({"kind": "percent", "value": ""}, 422, "needs a value"),
        ({"kind": "bogus"}, 422, "kind must be one of"),
        ({"min_subtotal": "-1"}, 422, "cannot be negative"),
        ({"min_subtotal": "21474836.48"}, 422, "too large"),
        ({"starts_at": "2030-01-02T00:00", "ends_at": "2030-01-01T00:00"}, 422, "after the start"),
        ({"starts_at": "next tuesday"}, 422, "not a date and time"),
        ({"usage_limit": "0"}, 422, "usage limit is from 1"),
        ({"usage_limit": "-3"}, 422, "whole number"),
        ({"usage_limit": "99999999999999999999"}, 422, "whole number"),
        ({"usage_limit": "3000000000"}, 422, "usage limit is from 1"),
        ({"code": "WELCOME10"}, 409, "already exists"),
        ({"code": "welcome10 "}, 409, "already exists"),
        ({"code": "no spaces"}, 422, "letters, digits or dashes"),
        ({"code": "١٢٣"}, 422, "letters, digits or dashes"),
        ({"code": ""}, 422, "letters, digits or dashes"),
        ({"code": "X" * 500}, 422, "letters, digits or dashes"),
    ],
)
def test_hostile_coupons_are_refused_and_change_nothing(app, staff, change, status, reason):
    before = snapshot(app)
    response = staff.form("/admin/coupons", {**COUPON, **change})
    assert response.status_code == status, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert "Not saved:" in page and reason.lower() in page.lower()
    assert snapshot(app) == before


def test_a_usage_limit_below_the_uses_so_far_is_refused(app, staff, browser, make_product):
    staff.form("/admin/coupons", COUPON)
    checkout(browser, make_product(price="30.00"), shipping_method="standard", coupon="SPRING-5")
    body = {"payment": {"provider": "test", "token": "tok_ok"}}
    assert browser.api("POST", "/checkout/complete", json=body).status_code == 201
    with app.app_context():
        db.session.execute(Coupon.__table__.update().values(used=2))  # as if used once more
        db.session.commit()
    before = snapshot(app)
    response = staff.form("/admin/coupons/SPRING-5", {**COUPON, "usage_limit": "1"})
    assert response.status_code == 422 and "cannot be lower" in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert staff.form("/admin/coupons/SPRING-5", {**COUPON, "usage_limit": "2"}).status_code == 302


def test_unknown_coupons_bad_switches_and_missing_tokens_are_refused(app, staff):
    before = snapshot(app)
    assert staff.page("/admin/coupons/NOPE").status_code == 404
    assert staff.form("/admin/coupons/NOPE", COUPON).status_code == 404
    assert staff.form("/admin/coupons/NOPE/active", {"active": "0"}).status_code == 404
    assert staff.form("/admin/coupons/WELCOME10/active", {"active": "maybe"}).status_code == 422
    no_token = staff.client.post("/admin/coupons", data=COUPON)
    assert no_token.status_code == 403
    no_token = staff.client.post("/admin/coupons/WELCOME10/active", data={"active": "0"})
    assert no_token.status_code == 403
    assert snapshot(app) == before


# --- shipping methods --------------------------------------------------------------------------


def test_shipping_methods_are_listed_with_the_orders_that_used_them(
    app, staff, browser, make_product
):
    checkout(browser, make_product(), shipping_method="pickup")
    body = {"payment": {"provider": "manual"}}
    assert browser.api("POST", "/checkout/complete", json=body).status_code == 201
    page = staff.page("/admin/shipping").get_data(as_text=True)
    assert 'data-id="standard"' in page and 'data-id="pickup"' in page
    pickup = page[page.index('data-id="pickup"') :]
    assert 'data-testid="shipping-orders">1<' in pickup
    standard = page[page.index('data-id="standard"') :]
    assert 'data-testid="shipping-orders">0<' in standard


def test_staff_create_edit_and_switch_off_a_method_and_checkout_follows(
    app, staff, browser, make_product
):
    assert staff.page("/admin/shipping/new").status_code == 200
    assert staff.form("/admin/shipping", METHOD).status_code == 302
    [(subject, _, after)] = audit_entries(app, "shipping.create")
    assert subject == "express" and after["price"] == "12.50" and after["countries"] == "GB,FR"
    sku = make_product(price="10.00")
    offered = checkout(browser, sku).json["shipping_methods"]
    assert [m["id"] for m in offered] == ["express", "standard", "pickup"]

    assert staff.form("/admin/shipping/express", {**METHOD, "price": "9.00"}).status_code == 302
    assert audit_entries(app, "shipping.update") == [
        ("express", {"price": "12.50"}, {"price": "9.00"})
    ]
    assert checkout(browser, sku, shipping_method="express").json["shipping"] == "9.00"

    assert staff.form("/admin/shipping/express/active", {"active": "0"}).status_code == 302
    offered = checkout(browser, sku).json["shipping_methods"]
    assert [m["id"] for m in offered] == ["standard", "pickup"]
    assert audit_entries(app, "shipping.disable") == [
        ("express", {"active": True}, {"active": False})
    ]


def test_switching_off_the_first_method_reaches_the_carts_estimate_at_once(app, staff):
    with app.app_context():
        assert rules.estimate_rules()[0].id == "standard"  # now cached for a few seconds
    assert staff.form("/admin/shipping/standard/active", {"active": "0"}).status_code == 302
    with app.app_context():
        assert rules.estimate_rules()[0].id == "pickup"
    row = staff.form("/admin/shipping/standard/active", {"active": "1"}, htmx=True)
    assert row.status_code == 200 and 'data-id="standard"' in row.get_data(as_text=True)
    with app.app_context():
        assert rules.estimate_rules()[0].id == "standard"


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"price": "-1"}, 422, "cannot be negative"),
        ({"price": "1e5"}, 422, "exponent"),
        ({"price": "99999999.00"}, 422, "too large"),
        ({"price": ""}, 422, "empty"),
        ({"free_from": "-5"}, 422, "cannot be negative"),
        ({"countries": "GB, XX"}, 422, "unknown country code(s): XX"),
        ({"countries": "Great Britain"}, 422, "unknown country"),
        ({"id": "standard"}, 409, "exists already"),
        ({"id": "has space"}, 422, "letters, digits or dashes"),
        ({"id": ""}, 422, "letters, digits or dashes"),
        ({"name": ""}, 422, "name must be"),
        ({"name": "N" * 101}, 422, "too long"),
        ({"position": "-1"}, 422, "whole number"),
        ({"position": "100001"}, 422, "at most 10000"),
    ],
)
def test_hostile_shipping_methods_are_refused_and_change_nothing(
    app, staff, change, status, reason
):
    before = snapshot(app)
    response = staff.form("/admin/shipping", {**METHOD, **change})
    assert response.status_code == status, response.get_data(as_text=True)
    assert reason.lower() in response.get_data(as_text=True).lower()
    assert snapshot(app) == before


def test_shipping_edits_to_unknown_or_bad_values_change_nothing(app, staff):
    before = snapshot(app)
    assert staff.page("/admin/shipping/nope").status_code == 404
    assert staff.form("/admin/shipping/nope", METHOD).status_code == 404
    assert staff.form("/admin/shipping/nope/active", {"active": "0"}).status_code == 404
    refused = staff.form("/admin/shipping/standard", {**METHOD, "price": "-5"})
    assert refused.status_code == 422 and 'value="-5"' in refused.get_data(as_text=True)
    assert (
        staff.client.post("/admin/shipping/standard/active", data={"active": "0"}).status_code
        == 403
    )
    assert snapshot(app) == before


# --- tax rates ---------------------------------------------------------------------------------


def test_staff_add_a_country_rate_edit_it_and_switch_tax_off(app, staff, browser, make_product):
    page = staff.page("/admin/tax").get_data(as_text=True)
    assert "Every country" in page and "10 %" in page
    assert staff.page("/admin/tax/new").status_code == 200
    form = {"country": "gb", "region": "", "percent": "20", "on_shipping": "on"}
    assert staff.form("/admin/tax", form).status_code == 302
    [(subject, _, after)] = audit_entries(app, "tax.create")
    assert subject == "GB" and after["percent"] == "20" and after["active"]
    sku = make_product(price="10.00")
    priced = checkout(browser, sku, shipping_method="pickup")
    assert priced.json["tax"] == "6.00"  # 20 % of 30.00: GB's rate, not every country's

    with app.app_context():
        rate_id = db.session.scalar(select(TaxRate.id).where(TaxRate.country == "GB"))
    edited = {**form, "percent": "17.5", "on_shipping": ""}
    assert staff.form(f"/admin/tax/{rate_id}", edited).status_code == 302
    assert audit_entries(app, "tax.update") == [
        ("GB", {"percent": "20", "on_shipping": True}, {"percent": "17.5", "on_shipping": False})
    ]
    assert checkout(browser, sku).json["tax"] == "5.25"

    assert staff.form(f"/admin/tax/{rate_id}/active", {"active": "0"}).status_code == 302
    assert checkout(browser, sku).json["tax"] == "3.00"  # every country's 10 % again
    with app.app_context():
        every = db.session.scalar(select(TaxRate.id).where(TaxRate.country.is_(None)))
    row = staff.form(f"/admin/tax/{every}/active", {"active": "0"}, htmx=True)
    assert row.status_code == 200 and ">Off<" in row.get_data(as_text=True)
    assert checkout(browser, sku).json["tax"] == "0.00"
    assert [e[0] for e in audit_entries(app, "tax.disable")] == ["GB", "every country"]


@pytest.mark.parametrize(
    ("form", "status", "reason"),
    [
        ({"percent": "100.5"}, 422, "from 0 to 100"),
        ({"percent": "-1"}, 422, "from 0 to 100"),
        ({"percent": "12.34567"}, 422, "four decimals"),
        ({"percent": "Infinity"}, 422, "from 0 to 100"),
        ({"percent": "ten"}, 422, "is not a number"),
        ({"country": "XX"}, 422, "unknown country code"),
        ({"country": "GBR"}, 422, "too long"),
        ({"country": "", "region": "CA"}, 422, "a region needs a country"),
        ({"country": ""}, 409, "exists already"),  # the demo's every-country rate
        ({"region": "R" * 65}, 422, "too long"),
    ],
)
def test_hostile_tax_rates_are_refused_and_change_nothing(app, staff, form, status, reason):
    before = snapshot(app)
    body = {"country": "US", "region": "", "percent": "7", "on_shipping": "on", **form}
    response = staff.form("/admin/tax", body)
    assert response.status_code == status, response.get_data(as_text=True)
    assert reason.lower() in response.get_data(as_text=True).lower()
    assert snapshot(app) == before


def test_tax_edits_of_unknown_rates_or_onto_another_place_change_nothing(app, staff):
    staff.form("/admin/tax", {"country": "US", "percent": "7"})
    with app.app_context():
        us = db.session.scalar(select(TaxRate.id).where(TaxRate.country == "US"))
    before = snapshot(app)
    for path in ("/admin/tax/999999", "/admin/tax/abc", "/admin/tax/-1", "/admin/tax/99999999999"):
        assert staff.page(path).status_code == 404, path
        assert staff.form(path, {"percent": "5"}).status_code == 404, path
        assert staff.form(path + "/active", {"active": "0"}).status_code == 404, path
    onto = staff.form(f"/admin/tax/{us}", {"country": "", "percent": "5"})
    assert onto.status_code == 409 and "exists already" in onto.get_data(as_text=True)
    assert snapshot(app) == before


# --- the forms, read without a request ----------------------------------------------------------


def test_forms_are_read_strictly_without_a_request():
    terms = editing.coupon_form({"kind": "free_shipping", "ends_at": "2030-01-01T10:00"})
    assert terms["value"] == "0" and terms["ends_at"].isoformat() == "2030-01-01T10:00:00+00:00"
    assert editing.coupon_form({"kind": "fixed", "value": "1", "once_per_customer": "on"})[
        "once_per_customer"
    ]
    assert editing.shipping_form({"needs_address": ""})["needs_address"] == "false"
    assert editing.tax_form({"on_shipping": "on"})["on_shipping"] == "true"
    for bad in (
        {"kind": "fixed", "value": "1", "usage_limit": "1.5"},
        {"kind": "fixed", "value": "1", "starts_at": "2030-13-01"},
        {"kind": "fixed", "value": "x" * 33},
    ):
        with pytest.raises(InvalidRule):
            editing.coupon_form(bad)
