"""The back office's products: list, create, edit, retire and restore, stock with a reason,
CSV import and export, the JSON PATCH; every change audited and announced to open pages, and
hostile input refused with nothing changed."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading

import pytest

from storefront.accounts.models import User
from storefront.catalog import changes, editing, fields
from storefront.catalog.changes import ProductFacts
from storefront.catalog.services import by_sku
from storefront.extensions import db


@pytest.fixture
def announced(monkeypatch):
    """Every (before, after) given to changes.announce, in order."""
    calls: list[tuple[ProductFacts | None, ProductFacts]] = []
    monkeypatch.setattr(changes, "announce", lambda before, after: calls.append((before, after)))
    return calls


def product(app, sku):
    with app.app_context():
        found = by_sku(sku)
        return None if found is None else fields.fields_of(found, "USD")


def audit_entries(app, action=None):
    from storefront.admin.models import StaffAction

    with app.app_context():
        query = db.session.query(StaffAction).order_by(StaffAction.id)
        if action:
            query = query.filter_by(action=action)
        return [
            (row.action, row.subject, json.loads(row.before), json.loads(row.after))
            for row in query
        ]


def ledger_ok(app) -> bool:
    from storefront.orders import stock

    with app.app_context():
        return stock.mismatches() == []


def edit_form(**overrides):
    return {
        "name": "Blue Mug",
        "price": "5.78",
        "description": "A mug.",
        "options": "",
        "meta_description": "",
        "active": "on",
        **overrides,
    }


# --- the list -----------------------------------------------------------------------------------


def test_list_searches_filters_and_pages(app, staff, make_product, make_products):
    make_product("AA-BLUE", name="Blue Zebra Mug", price="4.50", stock=2)
    make_product("AA-GONE", name="Gone Zebra Mug", stock=50, active=False)
    make_products(60, name="Zebra Plate")
    page = staff.page("/admin/products?q=zebra").get_data(as_text=True)
    assert "62 products, page 1 of 2" in page
    assert "AA-BLUE" in page and "$4.50" in page
    active = staff.page("/admin/products?q=zebra&status=active").get_data(as_text=True)
    assert "61 products" in active and "AA-GONE" not in active
    retired = staff.page("/admin/products?q=zebra&status=retired").get_data(as_text=True)
    assert "1 product." in retired and "AA-GONE" in retired
    assert "<td>Retired</td>" in retired and "<td>Active</td>" not in retired
    low = staff.page("/admin/products?q=zebra&low=1").get_data(as_text=True)
    assert "AA-BLUE" in low and "AA-GONE" not in low
    second = staff.page("/admin/products?q=zebra&page=2").get_data(as_text=True)
    assert "page 2 of 2" in second and "Previous page" in second
    fragment = staff.client.get(
        "/admin/products?q=AA-BLUE", headers={"HX-Request": "true", "HX-Target": "product-results"}
    ).get_data(as_text=True)
    assert "AA-BLUE" in fragment and "<html" not in fragment
    # Garbage in the query string is a default, never an error.
    assert staff.page("/admin/products?status=nope&page=-3&low=%00").status_code == 200
    # "²" is a digit to str.isdigit, not to int()
    assert staff.page("/admin/products?page=%C2%B2").status_code == 200


@pytest.mark.parametrize("settings", [{"STOREFRONT_LOW_STOCK": "60"}])
def test_low_stock_threshold_is_a_setting(app, staff, make_product):
    make_product("ZZ-SIXTY", stock=60)
    make_product("ZZ-SIXTY-ONE", stock=61)
    low = staff.page("/admin/products?q=zz-&low=1").get_data(as_text=True)
    assert "ZZ-SIXTY" in low and "ZZ-SIXTY-ONE" not in low and "60 or fewer" in low


# --- create and edit ----------------------------------------------------------------------------


def test_staff_create_a_product_audited_ledgered_and_announced(app, staff, announced):
    response = staff.form(
        "/admin/products/new",
        {**edit_form(options="size:S|M|L!"), "sku": "NEW-MUG", "stock": "7"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/products/NEW-MUG"
    assert product(app, "NEW-MUG") == {
        "sku": "NEW-MUG",
        "name": "Blue Mug",
        "description": "A mug.",
        "price": "5.78",
        "stock": 7,
        "active": True,
        "options": "size:S|M|L!",
        "meta_description": "",
    }
    assert staff.page("/products/NEW-MUG").status_code == 200
    [(_, subject, before, after)] = audit_entries(app, "product.create")
    assert (subject, before, after["price"], after["stock"]) == ("NEW-MUG", {}, "5.78", 7)
    assert announced == [(None, ProductFacts("NEW-MUG", "Blue Mug", 578, 7, True))]
    assert ledger_ok(app)


def test_a_sku_in_use_or_reserved_is_refused_and_nothing_is_created(
    app, staff, make_product, announced
):
    make_product("TAKEN", name="Old Name")
    response = staff.form("/admin/products/new", {**edit_form(), "sku": "TAKEN", "stock": "1"})
    assert response.status_code == 422 and "already in use" in response.get_data(as_text=True)
    assert product(app, "TAKEN")["name"] == "Old Name"
    reserved = staff.form("/admin/products/new", {**edit_form(), "sku": "new", "stock": "1"})
    assert reserved.status_code == 422 and product(app, "new") is None
    assert announced == [] and audit_entries(app) == []


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("price", "-1.00", "cannot be negative"),
        ("price", "1.234", "2 decimal places"),
        ("price", "21474836.48", "at most 21474836.47"),
        ("price", "1e3", "exponent"),
        ("price", "", "empty"),
        ("name", "", "Name is required"),
        ("name", "x" * 201, "at most 200"),
        ("name", "bad\x00name", "not allowed"),
        ("meta_description", "m" * 301, "at most 300"),
        ("options", "size:S|S", "listed twice"),
        ("options", "Size:S", "expected name:values"),
        ("description", "d" * 5001, "at most 5000"),
    ],
)
def test_hostile_form_values_are_refused_with_the_field_named(
    app, staff, make_product, announced, field, value, says
):
    make_product("EDIT-ME", name="Blue Mug", price="5.78")
    before = product(app, "EDIT-ME")
    response = staff.form("/admin/products/EDIT-ME", edit_form(**{field: value}))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and says in page, page
    assert 'aria-invalid="true"' in page and f'id="product-{field}-error"' in page
    assert product(app, "EDIT-ME") == before
    assert announced == [] and audit_entries(app) == []


def test_edit_saves_changed_fields_with_before_and_after(app, staff, make_product, announced):
    make_product("EDIT-ME", name="Blue Mug", price="5.78", stock=9)
    response = staff.form(
        "/admin/products/EDIT-ME",
        edit_form(price="4.99", options="engraving:text(20)", meta_description="A blue mug."),
    )
    assert response.status_code == 303
    after = product(app, "EDIT-ME")
    assert (after["price"], after["options"], after["meta_description"]) == (
        "4.99",
        "engraving:text(20)",
        "A blue mug.",
    )
    [(_, subject, before, changed)] = audit_entries(app, "product.update")
    assert subject == "EDIT-ME"
    assert before == {"price": "5.78", "options": "", "meta_description": "", "description": ""}
    assert changed["price"] == "4.99" and "name" not in changed
    assert announced == [
        (
            ProductFacts("EDIT-ME", "Blue Mug", 578, 9, True),
            ProductFacts("EDIT-ME", "Blue Mug", 499, 9, True),
        )
    ]
    page = staff.page("/admin/products/EDIT-ME").get_data(as_text=True)
    assert "EDIT-ME saved" not in page and 'value="4.99"' in page


def test_saving_an_unchanged_form_changes_nothing(app, staff, make_product, announced):
    make_product("SAME", name="Blue Mug", price="5.78", description="A mug.\nTwo lines.")
    # A browser's textarea sends CRLF line ends.
    unchanged = edit_form(description="A mug.\r\nTwo lines.")
    assert staff.form("/admin/products/SAME", unchanged).status_code == 303
    assert announced == [] and audit_entries(app) == []


def test_unknown_sku_is_404_on_every_product_page(app, staff):
    assert staff.page("/admin/products/NOPE").status_code == 404
    assert staff.form("/admin/products/NOPE", edit_form()).status_code == 404
    assert staff.form("/admin/products/NOPE/retire").status_code == 404
    assert (
        staff.form("/admin/products/NOPE/stock", {"delta": "1", "reason": "x"}).status_code == 404
    )


def test_forms_without_csrf_change_nothing(app, staff, make_product, announced):
    make_product("CSRF", name="Blue Mug")
    for path, data in [
        ("/admin/products/CSRF", edit_form(name="Hacked")),
        ("/admin/products/CSRF/retire", {}),
        ("/admin/products/CSRF/stock", {"delta": "5", "reason": "x"}),
        ("/admin/products/new", {**edit_form(), "sku": "CSRF-NEW"}),
    ]:
        response = staff.client.post(path, data={**data, "csrf_token": "forged"})
        assert response.status_code in (400, 403), path
    upload = staff.client.post(
        "/admin/products-import",
        data={"file": (io.BytesIO(b"sku,name,price,stock\nCSRF,Hacked,1,1\n"), "x.csv")},
    )
    assert upload.status_code in (400, 403)
    assert product(app, "CSRF")["name"] == "Blue Mug" and product(app, "CSRF-NEW") is None
    assert announced == [] and audit_entries(app) == []


# --- retire, restore ----------------------------------------------------------------------------


def test_retire_and_bring_back(app, staff, browser, make_product, announced):
    make_product("RETIRE-ME", name="Green Mug", price="3.00", stock=4)
    assert staff.form("/admin/products/RETIRE-ME/retire").status_code == 303
    assert product(app, "RETIRE-ME")["active"] is False
    assert "Bring back Green Mug" in staff.page("/admin/products/RETIRE-ME").get_data(as_text=True)
    assert browser.add("RETIRE-ME").status_code == 409  # a shopper can no longer add it
    staff.form("/admin/products/RETIRE-ME/retire")  # twice: nothing more happens
    assert staff.form("/admin/products/RETIRE-ME/restore").status_code == 303
    assert product(app, "RETIRE-ME")["active"] is True
    assert [(a, b, c) for a, _, b, c in audit_entries(app)] == [
        ("product.retire", {"active": True}, {"active": False}),
        ("product.restore", {"active": False}, {"active": True}),
    ]
    shown = ProductFacts("RETIRE-ME", "Green Mug", 300, 4, True)
    hidden = dataclasses.replace(shown, active=False)
    assert announced == [(shown, hidden), (hidden, shown)]


# --- stock ------------------------------------------------------------------------------------


def test_stock_delta_and_level_go_through_the_ledger_with_the_reason_audited(
    app, staff, make_product, announced
):
    make_product("STOCKED", name="Red Mug", stock=10)
    response = staff.form(
        "/admin/products/STOCKED/stock", {"delta": "-3", "reason": "Broken in transit"}
    )
    assert response.status_code == 303 and product(app, "STOCKED")["stock"] == 7
    staff.form("/admin/products/STOCKED/stock", {"level": "25", "reason": "Counted the shelf"})
    assert product(app, "STOCKED")["stock"] == 25
    assert [(b, a) for _, _, b, a in audit_entries(app, "product.stock")] == [
        ({"stock": 10}, {"stock": 7, "reason": "Broken in transit"}),
        ({"stock": 7}, {"stock": 25, "reason": "Counted the shelf"}),
    ]
    assert [(b.stock, a.stock) for b, a in announced] == [(10, 7), (7, 25)]
    assert ledger_ok(app)
    result = app.test_cli_runner().invoke(args=["stock-check"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        from storefront.orders.models import StockMovement

        reasons = [m.reason for m in db.session.query(StockMovement).order_by(StockMovement.id)]
    assert reasons[-2:] == ["staff", "staff"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"delta": "-11", "reason": "Oops"}, "cannot go below zero"),
        ({"delta": "5", "reason": ""}, "reason is required"),
        ({"delta": "5", "reason": "   "}, "reason is required"),
        ({"delta": "5", "reason": "r" * 201}, "at most 200"),
        ({"delta": "5", "level": "5", "reason": "Both"}, "not both"),
        ({"reason": "Neither"}, "either a change"),
        ({"delta": "1.5", "reason": "Half"}, "whole number"),
        ({"delta": "0", "reason": "Zero"}, "zero"),
        ({"level": "-1", "reason": "Negative"}, "whole number from 0"),
        ({"level": "99999999999", "reason": "Huge"}, "whole number from 0"),
        ({"delta": "+999999999", "reason": "Huge"}, "at most"),
    ],
)
def test_bad_stock_adjustments_are_422_and_change_nothing(
    app, staff, make_product, announced, data, says
):
    make_product("STOCKED", name="Red Mug", stock=10)
    response = staff.form("/admin/products/STOCKED/stock", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and says in page, page
    assert "The stock was not changed" in page
    assert product(app, "STOCKED")["stock"] == 10
    assert announced == [] and audit_entries(app) == [] and ledger_ok(app)


# --- CSV --------------------------------------------------------------------------------------


def upload(staff, content: bytes, name="products.csv"):
    return staff.form("/admin/products-import", {"file": (io.BytesIO(content), name)})


def test_import_keeps_good_rows_reports_bad_ones_by_line_audits_and_announces(
    app, staff, make_product, announced
):
    make_product("IMP-OLD", name="Old Mug", price="2.00", stock=5)
    content = (
        b"sku,name,price,stock,options\n"
        b"IMP-OLD,Old Mug,2.50,5,\n"
        b"IMP-NEW,New Mug,3.00,8,size:S|M!\n"
        b"bad sku,Nope,1,1,\n"
        b"IMP-NEG,Negative,-1,1,\n"
    )
    response = upload(staff, content)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "1 created, 1 updated, 2 row(s) rejected" in page
    assert "line 4: sku must be" in page and "line 5: price must be 0 or more" in page
    assert product(app, "IMP-OLD")["price"] == "2.50" and product(app, "IMP-NEW")["stock"] == 8
    entries = audit_entries(app, "product.import")
    assert [(s, b, a.get("price")) for _, s, b, a in entries] == [
        ("IMP-NEW", {}, "3.00"),
        ("IMP-OLD", {"price": "2.00"}, "2.50"),
    ]
    assert announced == [
        (None, ProductFacts("IMP-NEW", "New Mug", 300, 8, True)),
        (
            ProductFacts("IMP-OLD", "Old Mug", 200, 5, True),
            ProductFacts("IMP-OLD", "Old Mug", 250, 5, True),
        ),
    ]
    assert ledger_ok(app)


def test_import_refuses_files_it_cannot_read_and_imports_nothing(app, staff, announced):
    assert "choose a CSV file" in upload(staff, b"", name="").get_data(as_text=True)
    not_utf8 = upload(staff, "sku,name,price,stock\nLATIN,Caf\xe9,1,1\n".encode("latin-1"))
    assert not_utf8.status_code == 422 and "not UTF-8" in not_utf8.get_data(as_text=True)
    huge_cell = upload(staff, b"sku,name,price,stock\nHUGE," + b"x" * 200_000 + b",1,1\n")
    assert huge_cell.status_code == 422
    no_columns = upload(staff, b"foo,bar\n1,2\n")
    assert "missing column(s): sku, name, price, stock" in no_columns.get_data(as_text=True)
    assert product(app, "LATIN") is None and product(app, "HUGE") is None
    assert announced == [] and audit_entries(app) == []


def test_import_takes_a_file_larger_than_the_usual_request_limit(app, staff):
    rows = "".join(f"BIG-{n:05d},Big product {n} {'x' * 40},1.00,1\n" for n in range(2000))
    content = ("sku,name,price,stock\n" + rows).encode()
    assert len(content) > 64 * 1024
    response = upload(staff, content)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "2000 created" in response.get_data(as_text=True)


def test_import_refuses_a_file_over_its_limit(app, staff):
    too_big = upload(staff, b"sku,name,price,stock\n" + b"x" * (9 * 2**20))
    assert too_big.status_code == 413
    assert "larger than 8 MB" in too_big.get_data(as_text=True)


def test_export_is_the_whole_catalog_in_import_columns_with_formulas_escaped(
    app, staff, make_product
):
    make_product("EXP-1", name='=HYPERLINK("http://evil")', price="1.50", description="-minus")
    make_product("EXP-2", name="@SUM(A1)", options="size:S|M!", active=False)
    response = staff.page("/admin/products.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = {r["sku"]: r for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert list(next(iter(rows.values()))) == [
        "sku",
        "name",
        "price",
        "stock",
        "description",
        "options",
        "active",
    ]
    assert rows["EXP-1"]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows["EXP-1"]["description"] == "'-minus" and rows["EXP-1"]["price"] == "1.50"
    assert rows["EXP-2"]["name"] == "'@SUM(A1)" and rows["EXP-2"]["options"] == "size:S|M!"
    assert rows["EXP-2"]["active"] == "false"
    assert "DEMO-1500" in rows


def test_safe_cell_escapes_only_formula_starts():
    from storefront.catalog.listing import safe_cell

    assert [safe_cell(v) for v in ("=1", "+1", "-1", "@x", "\tx", "plain", 12)] == [
        "'=1",
        "'+1",
        "'-1",
        "'@x",
        "'\tx",
        "plain",
        "12",
    ]


# --- JSON -------------------------------------------------------------------------------------


def test_patch_changes_fields_and_stock_in_one_go(app, staff, make_product, announced):
    make_product("API-MUG", name="Blue Mug", price="5.78", stock=10)
    response = staff.api(
        "PATCH",
        "/admin/products/API-MUG",
        json={"price": "4.99", "stock": 3, "stock_reason": "Recount", "name": "Bluer Mug"},
    )
    assert response.status_code == 200, response.json
    assert response.json == {
        "sku": "API-MUG",
        "name": "Bluer Mug",
        "description": "",
        "price": "4.99",
        "stock": 3,
        "active": True,
        "options": "",
        "meta_description": "",
        "currency": "USD",
    }
    actions = [(a, b, c) for a, _, b, c in audit_entries(app)]
    assert actions == [
        (
            "product.update",
            {"name": "Blue Mug", "price": "5.78"},
            {"name": "Bluer Mug", "price": "4.99"},
        ),
        ("product.stock", {"stock": 10}, {"stock": 3, "reason": "Recount"}),
    ]
    assert announced == [
        (
            ProductFacts("API-MUG", "Blue Mug", 578, 10, True),
            ProductFacts("API-MUG", "Bluer Mug", 499, 3, True),
        )
    ]
    assert ledger_ok(app)
    assert (
        staff.api("PATCH", "/admin/products/API-MUG", json={"active": False}).json["active"]
        is False
    )
    assert audit_entries(app)[-1][0] == "product.retire"
    assert staff.api("GET", "/admin/products/API-MUG").json["active"] is False


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"colour": "blue"}, 400, "bad_request"),
        ({}, 400, "bad_request"),
        ([1, 2], 400, "bad_request"),
        ({"price": 4.99}, 422, "invalid_product"),
        ({"price": "-1"}, 422, "invalid_product"),
        ({"price": "99999999999.00"}, 422, "invalid_product"),
        ({"price": "1.999"}, 422, "invalid_product"),
        ({"name": 12}, 422, "invalid_product"),
        ({"name": ""}, 422, "invalid_product"),
        ({"active": 1}, 422, "invalid_product"),
        ({"active": "false"}, 422, "invalid_product"),
        ({"stock": 5}, 422, "invalid_product"),
        ({"stock": 5, "stock_reason": ""}, 422, "invalid_product"),
        ({"stock_reason": "why"}, 422, "invalid_product"),
        ({"stock": True, "stock_reason": "bool"}, 422, "invalid_product"),
        ({"stock": -1, "stock_reason": "neg"}, 422, "invalid_product"),
        ({"stock": 1.5, "stock_reason": "float"}, 422, "invalid_product"),
        ({"stock": 10**30, "stock_reason": "huge"}, 422, "invalid_product"),
        ({"stock": "5", "stock_reason": "text"}, 422, "invalid_product"),
        ({"description": "\x00"}, 422, "invalid_product"),
        ({"name": "ok", "price": "bad"}, 422, "invalid_product"),
    ],
)
def test_patch_refuses_hostile_bodies_and_changes_nothing(
    app, staff, make_product, announced, body, status, code
):
    make_product("API-MUG", name="Blue Mug", price="5.78", stock=10)
    before = product(app, "API-MUG")
    response = staff.api("PATCH", "/admin/products/API-MUG", json=body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert product(app, "API-MUG") == before
    assert announced == [] and audit_entries(app) == []


def test_patch_names_each_bad_field(app, staff, make_product):
    make_product("API-MUG")
    error = staff.api("PATCH", "/admin/products/API-MUG", json={"price": "-1", "name": ""}).json[
        "error"
    ]
    assert error["fields"] == ["name", "price"] and set(error["errors"]) == {"name", "price"}


def test_patch_unknown_sku_malformed_json_and_missing_csrf(app, staff, make_product):
    make_product("API-MUG", name="Blue Mug")
    assert staff.api("PATCH", "/admin/products/NOPE", json={"name": "x"}).status_code == 404
    assert staff.api("PATCH", "/admin/products/" + "x" * 300, json={"name": "x"}).status_code == 404
    bad = staff.api(
        "PATCH",
        "/admin/products/API-MUG",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 400
    no_csrf = staff.client.patch("/api/v1/admin/products/API-MUG", json={"name": "Hacked"})
    assert no_csrf.status_code == 403 and no_csrf.json["error"]["code"] == "csrf_failed"
    assert product(app, "API-MUG")["name"] == "Blue Mug"


# --- pure functions ---------------------------------------------------------------------------


def test_clean_turns_typed_values_into_columns():
    values = fields.clean(
        {"name": "  Mug ", "price": "12.5", "options": "size:S|M!", "active": False}, "USD"
    )
    assert values == {
        "name": "Mug",
        "price_cents": 1250,
        "options_json": '[{"name":"size","required":true,"choices":["S","M"]}]',
        "active": False,
    }
    assert fields.clean_price("0", "USD") == 0
    assert fields.clean_price("21474836.47", "USD") == 2**31 - 1


def test_stock_change_new_level():
    change = fields.stock_change("-3", "", "Broken")
    assert change.new_level(10, "Mug") == 7
    assert fields.stock_change("", "0", "Sold out").new_level(10, "Mug") == 0
    with pytest.raises(Exception, match="below zero"):
        change.new_level(2, "Mug")


def test_patch_also_takes_options_and_meta_description(app, staff, make_product, announced):
    make_product("API-OPT", name="Tee")
    response = staff.api(
        "PATCH",
        "/admin/products/API-OPT",
        json={
            "options": "size:S|M|L!;engraving:text(20)",
            "meta_description": "A soft tee.",
            "description": "Line one\nLine two",
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["options"] == "size:S|M|L!;engraving:text(20)"
    assert response.json["description"] == "Line one\nLine two"
    bad = staff.api("PATCH", "/admin/products/API-OPT", json={"options": "size:"})
    assert bad.status_code == 422 and bad.json["error"]["fields"] == ["options"]
    # The shop itself now asks for the size the staff made required.
    assert staff.add("API-OPT").json["error"]["code"] == "invalid_option"


def test_patch_stock_below_what_is_left_is_a_level_not_a_delta(app, staff, make_product, announced):
    make_product("API-ZERO", stock=4)
    response = staff.api(
        "PATCH", "/admin/products/API-ZERO", json={"stock": 0, "stock_reason": "Sold at a fair"}
    )
    assert response.status_code == 200 and response.json["stock"] == 0
    assert ledger_ok(app)
    # Set to the level it already has: nothing written, nobody told.
    announced.clear()
    same = staff.api(
        "PATCH", "/admin/products/API-ZERO", json={"stock": 0, "stock_reason": "Still none"}
    )
    assert same.status_code == 200 and announced == []
    assert len(audit_entries(app, "product.stock")) == 1


def test_stock_adjustments_of_two_staff_at_once_both_count(app, staff, make_product):
    """Each adjustment locks the product's row, so two deltas at once add up (no lost update)
    and the ledger still matches."""
    make_product("RACE", stock=100)
    barrier = threading.Barrier(2)
    results = []

    def adjust(delta):
        with app.app_context():
            user = db.session.query(User).filter_by(email="staff@example.com").one()
            barrier.wait()
            change = fields.stock_change(str(delta), "", f"race {delta}")
            results.append(editing.adjust_stock(user, "RACE", change).stock)

    threads = [threading.Thread(target=adjust, args=(d,)) for d in (-30, +5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert product(app, "RACE")["stock"] == 75 and len(results) == 2
    assert ledger_ok(app)


# --- two staff editing one product ---------------------------------------------------------------


def shown_form(staff, sku) -> dict:
    """The edit form as a browser would send it back unchanged: every field and its ``seen``."""
    import html
    import re

    page = staff.page(f"/admin/products/{sku}").get_data(as_text=True)
    seen = html.unescape(re.search(r'name="seen" value="([^"]*)"', page).group(1))
    shown = json.loads(seen)
    form = {k: v for k, v in shown.items() if k != "active"}
    if shown["active"]:
        form["active"] = "on"
    return {**form, "seen": seen}


def test_saving_one_field_keeps_what_another_staff_member_changed_meanwhile(
    app, staff, make_product, announced
):
    sku = make_product(name="Blue Mug", price="5.78", description="A mug.")
    form = shown_form(staff, sku)  # staff A opens the edit page
    other = staff.api("PATCH", f"/admin/products/{sku}", json={"price": "4.99", "active": False})
    assert other.status_code == 200  # staff B changes the price and retires it
    response = staff.form(f"/admin/products/{sku}", {**form, "description": "A bigger mug."})
    assert response.status_code == 303
    after = product(app, sku)
    assert after["description"] == "A bigger mug."
    assert after["price"] == "4.99" and after["active"] is False  # B's changes stand


def test_both_changing_the_same_field_is_refused_with_the_field_named(
    app, staff, make_product, announced
):
    sku = make_product(name="Blue Mug", price="5.78")
    form = shown_form(staff, sku)
    assert staff.api("PATCH", f"/admin/products/{sku}", json={"price": "4.99"}).status_code == 200
    response = staff.form(f"/admin/products/{sku}", {**form, "price": "6.50"})
    assert response.status_code == 422
    assert "Someone else changed this while you were editing" in response.get_data(as_text=True)
    assert product(app, sku)["price"] == "4.99"
