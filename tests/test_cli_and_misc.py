from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from storefront.cart import models as m
from storefront.cart.notices import merge_notice
from storefront.cart.state import AddLine, MergeReport, Shortfall
from storefront.devices import code_for, label
from storefront.extensions import db
from tests.conftest import KEY

ROOT = Path(__file__).resolve().parent.parent


def test_both_entry_points_upgrade_and_load_the_demo_idempotently(tmp_path):
    env = {
        **os.environ,
        "STOREFRONT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "STOREFRONT_SECRET_KEY": "s",
        "STOREFRONT_ENCRYPTION_KEYS": KEY,
    }
    storefront = Path(sys.executable).with_name("storefront")
    flask = [sys.executable, "-m", "flask", "--app", "storefront"]
    for command in (
        [str(storefront), "db", "upgrade"],
        [*flask, "db", "upgrade"],
        [str(storefront), "demo"],
        [*flask, "demo"],
    ):
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "0 products added" in done.stdout


def test_the_embedded_default_needs_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREFRONT_")}
    script = (
        "from storefront import create_app;"
        f"app = create_app({{'INSTANCE_PATH': {str(tmp_path)!r}}});"
        "print(app.config['SQLALCHEMY_DATABASE_URI'])"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"sqlite:///{tmp_path / 'storefront.db'}"
    assert (tmp_path / "secret_key").exists() and (tmp_path / "encryption_keys").exists()


def test_a_misconfigured_start_names_the_variable(tmp_path):
    env = {**os.environ, "STOREFRONT_MAX_LINES": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "storefront", "routes"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "STOREFRONT_MAX_LINES must be from 1 to 10000" in done.stderr


def test_visiting_pages_creates_no_cart_row(app, browser, make_product):
    for path in ("/", f"/products/{make_product()}", "/cart", "/api/v1/cart"):
        browser.page(path)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(m.Cart)) == 0


def test_device_labels_are_short_and_readable():
    firefox_android = "Mozilla/5.0 (Android 14; Mobile; rv:130.0) Gecko/130.0 Firefox/130.0"
    safari_iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    )
    edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0 Safari/537.36 Edg/130.0"
    assert label(code_for(firefox_android)) == "Firefox on Android"
    assert label(code_for(safari_iphone)) == "Safari on iPhone"
    assert label(code_for(edge)) == "Edge on Windows"
    assert label(code_for("curl/8.5")) == "an app or script"
    assert all(0 <= code_for(ua) < 256 for ua in (firefox_android, safari_iphone, edge, ""))


def test_the_merge_notice_names_what_was_merged_and_what_was_clamped():
    report = MergeReport(
        merged=(AddLine("a", "DEMO-0030", 2, ()), AddLine("b", "DEMO-0001", 1, (("size", "M"),))),
        shortfalls=(
            Shortfall("DEMO-1500", (), 5, 3, "stock"),
            Shortfall("DEMO-0040", (), 1, 0, "line_limit"),
        ),
    )
    names = {
        "DEMO-0030": "Honey Mug",
        "DEMO-0001": "Blue Mug",
        "DEMO-1500": "Cup",
        "DEMO-0040": "Jar",
    }
    text = merge_notice(report, names)
    assert "2 × Honey Mug" in text and "1 × Blue Mug (size: M)" in text
    assert "Cup: kept 3 of 5 (not enough in stock)" in text
    assert "Jar: could not add 1 (your cart is full)" in text
    assert merge_notice(MergeReport(), names) == ""
