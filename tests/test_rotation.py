"""Key rotation: re-encrypt, drop the old key, restart, and every cart and revision reads back."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select

from storefront import create_app
from storefront.cart import models as m
from storefront.cart import store
from storefront.cart.rotation import TARGETS
from storefront.cart.sealing import keyring
from storefront.config import ConfigError
from storefront.crypto import Keyring
from storefront.extensions import db
from tests.conftest import KEY, app_settings

NEW_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def settings():
    return {"STOREFRONT_PAYMENT_PROVIDERS": "test"}


def key_ids(app) -> set[bytes]:
    with app.app_context():
        ids = set()
        for target in TARGETS:
            ids |= {
                Keyring.sealed_key_id(v)
                for v in db.session.scalars(select(getattr(target.model, target.column)))
                if v
            }
        db.session.remove()
        return ids


def test_rotate_drop_the_old_key_restart_and_everything_reads_back(
    app, browser, tmp_path, make_product, make_products
):
    skus = make_products(6)
    for n in range(25):
        browser.add(skus[n % 6], 1, **{"Idempotency-Key": f"k{n}"})
    browser.add(make_product(options="engraving:text(40)"), 1, {"engraving": "Rotate me"})
    ordered = make_product()
    browser.add(ordered, 2)
    details = {
        "email": "rotate@example.com",
        "address": {
            "name": "R",
            "address_line1": "1 Way",
            "city": "C",
            "postal_code": "1",
            "country": "FR",
        },
    }
    assert browser.api("PUT", "/checkout", json=details).status_code == 200
    payment = {"payment": {"provider": "test", "token": "tok_ok"}}
    order = browser.api("POST", "/checkout/complete", json=payment).json["order"]
    before = browser.cart()
    checkout_before = browser.api("GET", "/checkout").json
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    cookie = browser.client.get_cookie("storefront").value

    rotated = create_app(
        app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=f"{NEW_KEY},{KEY}")
    )
    result = rotated.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "0 left; the other keys can now be removed" in result.output
    with rotated.app_context():
        new_id = keyring().primary_id
        db.engine.dispose()
    assert key_ids(app) == {new_id}

    # The old key is gone from the configuration: start-up accepts it and every value opens.
    fresh = create_app(app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=NEW_KEY))
    client = fresh.test_client()
    client.set_cookie("storefront", cookie)
    assert client.get("/api/v1/cart").json == {**before}
    assert client.get("/api/v1/checkout").json == checkout_before
    assert client.get(f"/api/v1/orders/{order['number']}").json == order
    with fresh.app_context():
        cart = db.session.scalar(select(m.Cart))
        for version in range(1, cart.version + 1):
            store.state_at(cart.id, version)  # every revision decrypts and replays
        db.engine.dispose()
    again = fresh.test_cli_runner().invoke(args=["rotate-keys"])
    assert "0 values re-encrypted" in again.output  # resumable: nothing left to do


def test_without_the_new_key_start_up_refuses_rotated_data(app, browser, tmp_path, make_product):
    browser.add(make_product())
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    rotated = create_app(
        app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=f"{NEW_KEY},{KEY}")
    )
    rotated.test_cli_runner().invoke(args=["rotate-keys"])
    with pytest.raises(ConfigError, match="not hold"):
        create_app(app_settings(url, str(tmp_path), STOREFRONT_ENCRYPTION_KEYS=KEY))
