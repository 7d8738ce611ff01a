"""The selling commands: demo rules, shipping and tax imports, coupons, the stock check."""

from __future__ import annotations

from sqlalchemy import select, update

from storefront.catalog.models import Product
from storefront.checkout.models import Coupon, ShippingMethod, TaxRate
from storefront.extensions import db


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_demo_twice_changes_nothing(app):
    first = run(app, "demo")
    again = run(app, "demo")
    assert first.exit_code == again.exit_code == 0
    with app.app_context():
        methods = select(ShippingMethod).order_by(ShippingMethod.position)
        assert [m.id for m in db.session.scalars(methods)] == ["standard", "pickup"]
        assert len(db.session.scalars(select(TaxRate)).all()) == 1
        assert db.session.scalar(select(Coupon.code)) == "WELCOME10"


def test_shipping_import_is_all_or_nothing_with_line_numbers(app, tmp_path):
    good = tmp_path / "shipping.csv"
    good.write_text(
        "id,name,price,free_from,countries,needs_address\n"
        "express,Express,12.50,,GB;FR,true\n"
        "standard,Standard,4.00,40.00,,\n"
    )
    result = run(app, "import-shipping", str(good))
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,name,price,free_from,countries,needs_address\ncheap,Cheap,1.00,,,\nmoon,Moon,-1,,XX,\n"
    )
    result = run(app, "import-shipping", str(bad))
    assert result.exit_code == 1 and "line 3" in result.output
    assert "nothing imported" in result.output
    with app.app_context():
        methods = {m.id: m for m in db.session.scalars(select(ShippingMethod))}
        assert "cheap" not in methods
        assert methods["express"].price == 1250 and methods["express"].countries == "GB,FR"
        assert methods["standard"].free_from == 4000


def test_tax_import_and_a_regional_rate(app, tmp_path):
    rates = tmp_path / "tax.csv"
    rates.write_text("country,region,percent,on_shipping\nUS,CA,7.25,false\nDE,,19,true\n")
    result = run(app, "import-tax", str(rates))
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output


def test_coupons_create_and_refuse_a_duplicate(app):
    result = run(app, "coupons", "create", "SPRING", "--amount", "5.00", "--limit", "100")
    assert result.exit_code == 0, result.output
    again = run(app, "coupons", "create", "spring", "--percent", "5")
    assert again.exit_code != 0 and "already exists" in again.output
    both = run(app, "coupons", "create", "X", "--percent", "5", "--free-shipping")
    assert both.exit_code != 0


def test_stock_check_finds_a_product_changed_behind_the_ledgers_back(app, make_product):
    sku = make_product(stock=4)
    assert run(app, "stock-check").exit_code == 0
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(stock=9))
        db.session.commit()
    result = run(app, "stock-check")
    assert result.exit_code == 1 and f"{sku}: stock 9, ledger says 4" in result.output
