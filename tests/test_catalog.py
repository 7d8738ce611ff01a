from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from storefront.catalog.models import Product
from storefront.catalog.services import PAGE_SIZE
from storefront.extensions import db
from tests import dbs


def product(app, sku):
    with app.app_context():
        return db.session.scalar(select(Product).where(Product.sku == sku))


def test_demo_catalog_matches_the_contract(app):
    with app.app_context():
        assert db.session.scalar(select(func.count(Product.id))) >= 1500
        skus = set(db.session.scalars(select(Product.sku)))
    assert {f"DEMO-{n:04d}" for n in range(1, 1501)} <= skus
    assert product(app, "DEMO-1500").stock == 3
    assert product(app, "DEMO-1499").stock >= 10_000
    assert [s.name for s in product(app, "DEMO-0001").option_specs] == ["size"]
    assert product(app, "DEMO-0010").option_specs[0].choices == ("S", "M", "L", "XL")
    engraving = product(app, "DEMO-0015").option_specs[0]
    assert (engraving.name, engraving.max_length, engraving.required) == ("engraving", 40, False)
    assert product(app, "DEMO-0021").option_specs == ()


def test_running_demo_twice_changes_nothing(app):
    runner = app.test_cli_runner()
    before = product(app, "DEMO-0042")
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0 and "0 products added" in result.output
    after = product(app, "DEMO-0042")
    assert (before.name, before.price_cents, before.stock) == (
        after.name,
        after.price_cents,
        after.stock,
    )


def test_catalog_search_and_pagination(browser, make_product, make_products):
    make_products(PAGE_SIZE, name="Paper Notebook")  # with the two below, more than a page
    mug = make_product(name="Quokka Mug")
    make_product(name="Quokka T-Shirt")
    page = browser.page("/").get_data(as_text=True)
    assert "products, page 1 of" in page
    assert "Next page" in page
    second = browser.page("/?page=2").get_data(as_text=True)
    assert "page 2 of" in second
    mugs = browser.page("/?q=mug").get_data(as_text=True)
    assert "Mug" in mugs and "T-Shirt" not in mugs
    by_sku = browser.page(f"/?q={mug}").get_data(as_text=True)
    assert "1 product" in by_sku
    nothing = browser.page("/?q=%25%25zzz").get_data(as_text=True)
    assert "No products match" in nothing
    assert browser.page("/?page=99999").status_code == 200
    assert browser.page("/?page=-1").status_code == 200


def test_catalog_search_as_an_htmx_fragment(browser, make_product):
    make_product(name="Quokka Mug")
    response = browser.client.get("/?q=mug", headers={"HX-Request": "true", "HX-Target": "results"})
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Mug" in body


def test_product_page_has_the_add_form_and_unknown_products_are_404(browser, make_product):
    sku = make_product(options="size:S|M|L|XL!")
    body = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert 'data-testid="add-to-cart"' in body and 'data-testid="add-quantity"' in body
    assert 'name="option-size"' in body
    assert browser.page("/products/NOPE-1").status_code == 404
    assert browser.page("/products/" + "X" * 500).status_code == 404


CSV = """sku,name,price,stock,description,options,active
TEA-1,Green Tea,4.50,100,Loose leaf,,true
TEA-2,Black Tea,abc,100,,,
TEA-3,Chai,3.00,-5,,,
MUG-9,Custom Mug,12.00,5,,colour:red|blue!;text:text(20),
OLD-1,Renamed Product,1.00,7,,,false
,No SKU,1.00,1,,,
TEA-1,Duplicate,1.00,1,,,
GOLD-1,Gold Bar,21474836.47,1,,,
GOLD-2,Gold Statue,21474836.48,1,,,
"""


def test_import_products_keeps_good_rows_and_reports_bad_ones_by_line(app, tmp_path, make_product):
    make_product("OLD-1", name="Old Product", stock=20)
    path = tmp_path / "products.csv"
    path.write_text(CSV)
    result = app.test_cli_runner().invoke(args=["import-products", str(path)])
    assert result.exit_code == 1
    assert "line 3: price 'abc' is not a number" in result.output
    assert "line 4: stock '-5'" in result.output
    assert "line 7: sku" in result.output
    assert "line 8: sku TEA-1 appears earlier" in result.output
    assert "line 10: price must be at most 21,474,836.47" in result.output
    assert "3 created, 1 updated, 5 row(s) rejected" in result.output
    assert product(app, "GOLD-1").price_cents == 2**31 - 1
    assert product(app, "TEA-1").price_cents == 450
    mug = product(app, "MUG-9")
    assert [(s.name, s.required) for s in mug.option_specs] == [("colour", True), ("text", False)]
    retired = product(app, "OLD-1")
    assert retired.active is False and retired.name == "Renamed Product"


def test_import_products_refuses_a_file_without_the_required_columns(app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sku,name\nX,Y\n")
    result = app.test_cli_runner().invoke(args=["import-products", str(path)])
    assert result.exit_code == 1 and "missing column(s): price, stock" in result.output


def test_a_retired_product_leaves_the_catalog_and_cannot_be_added(
    app, browser, tmp_path, make_product
):
    sku = make_product()
    path = tmp_path / "retire.csv"
    path.write_text(f"sku,name,price,stock,active\n{sku},Gone,1.00,10,false\n")
    assert app.test_cli_runner().invoke(args=["import-products", str(path)]).exit_code == 0
    assert ">0 products<" in browser.page(f"/?q={sku}").get_data(as_text=True)
    page = browser.page(f"/products/{sku}").get_data(as_text=True)
    assert "No longer available." in page
    # The form stays (a live change can bring the product back), its button disabled.
    assert re.search(r'<button[^>]*data-testid="add-to-cart"[^>]*\bdisabled\b', page)
    response = browser.add(sku)
    assert response.status_code == 409 and response.json["error"]["code"] == "out_of_stock"


def test_live_search_updates_the_heading_and_title_with_the_results(browser, make_product):
    make_product(name="Quokka Mug")
    response = browser.client.get("/?q=mug", headers={"HX-Request": "true", "HX-Target": "results"})
    body = response.get_data(as_text=True)
    assert "<title>Search: mug · Storefront</title>" in body
    assert 'id="catalog-heading" hx-swap-oob="true">Products matching “mug”' in body


@pytest.mark.skipif(not dbs.POSTGRES_URL, reason="products are read along on PostgreSQL")
def test_products_read_along_are_each_found_by_its_index_however_large_the_catalog(app):
    """The demo catalog's 1,500 products looked a small table to the planner: ``sku =
    ANY(...)`` scanned all of them on every cart change. Each SKU is one index probe, and one
    that is no product reads as a null."""
    from sqlalchemy.dialects import postgresql

    from storefront.catalog import services as catalog

    statement = select(catalog.rows_along())
    sql = str(statement.compile(dialect=postgresql.dialect()))
    skus = ["DEMO-0001", "DEMO-0002", "GONE-1", "DEMO-1500"]
    with app.app_context():
        [rows] = db.session.execute(statement, {"skus": skus}).one()
        cursor = db.session.connection().connection.driver_connection.cursor()
        plan = "\n".join(line for (line,) in cursor.execute("EXPLAIN " + sql, {"skus": skus}))
        db.session.remove()
    assert [row and row[0] for row in rows] == ["DEMO-0001", "DEMO-0002", None, "DEMO-1500"]
    assert "Index Scan using products_sku_key" in plan, plan
    assert "Seq Scan on products" not in plan, plan


def test_products_read_along_answer_their_look_ups_and_only_theirs(app, make_product):
    """Inside ``read_along``, a SKU asked is answered from the rows given (none: no such
    product) without a statement; a SKU not asked is still looked up in the database."""
    from storefront.catalog import services as catalog
    from tests import dbs

    along, elsewhere = make_product(name="Along", price="2.50"), make_product(name="Elsewhere")
    # Deliberately not what the database holds: proof of where each answer came from.
    given = [[along, "Read along", 111, 7, True, "[]"]]
    answers = {}

    def look_up():
        with app.app_context(), catalog.read_along([along, "GONE-1"], given):
            answers["to_add"] = catalog.to_add(along)
            answers["gone"] = catalog.to_add("GONE-1")
            answers["among"] = catalog.to_add_among(along, ["GONE-1"])
            answers["facts"] = catalog.facts_for([along, elsewhere])

    reads = dbs.selects_reading(app, "products", look_up)
    assert answers["to_add"] == (along, "Read along", 111, 7, True, ())
    assert answers["gone"] is None
    assert answers["among"][0].name == "Read along" and set(answers["among"][1]) == {along}
    assert {sku: f.name for sku, f in answers["facts"].items()} == {
        along: "Read along",
        elsewhere: "Elsewhere",
    }
    assert len(reads) == 1, reads  # only the SKU not read along
    with app.app_context():  # and outside, the database's own
        assert catalog.to_add(along).name == "Along"
