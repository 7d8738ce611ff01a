from __future__ import annotations

import base64
import os

import pytest

from storefront.config import ConfigError, load, parse_keys
from storefront.crypto import Keyring, TamperedError, UnknownKeyError, key_id

K1, K2 = os.urandom(32), os.urandom(32)


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_sealed_values_open_only_with_their_associated_data():
    ring = Keyring([K1])
    sealed = ring.seal(b"DEMO-0001", b"state|1|1")
    assert b"DEMO-0001" not in sealed
    assert ring.open(sealed, b"state|1|1") == b"DEMO-0001"
    with pytest.raises(TamperedError):
        ring.open(sealed, b"state|2|1")  # another cart's data does not open here
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(TamperedError):
        ring.open(flipped, b"state|1|1")


def test_values_name_their_key_by_hash_so_any_configured_key_opens_them():
    old = Keyring([K1]).seal(b"x", b"a")
    assert Keyring.sealed_key_id(old) == key_id(K1)
    rotated = Keyring([K2, K1])
    assert rotated.open(old, b"a") == b"x"
    assert Keyring.sealed_key_id(rotated.seal(b"y", b"a")) == key_id(K2)
    with pytest.raises(UnknownKeyError):
        Keyring([K2]).open(old, b"a")


def test_keys_must_be_32_bytes_of_urlsafe_base64():
    assert parse_keys(f"{b64(K1)}, {b64(K2)}") == [K1, K2]
    with pytest.raises(ConfigError, match="32 bytes"):
        parse_keys(b64(b"short"))
    with pytest.raises(ConfigError, match="base64"):
        parse_keys("not base64!!")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("STOREFRONT_SESSION_TIMEOUT_MINUTES", "14", "15 to 120"),
        ("STOREFRONT_SESSION_TIMEOUT_MINUTES", "121", "15 to 120"),
        ("STOREFRONT_GUEST_CART_DAYS", "0", "1 to 90"),
        ("STOREFRONT_HISTORY_DAYS", "366", "1 to 365"),
        ("STOREFRONT_MAX_LINES", "10001", "1 to 10000"),
        ("STOREFRONT_MAX_LINE_QUANTITY", "lots", "whole number"),
        ("STOREFRONT_DATABASE_POOL_SIZE", "0", "1 to 1000"),
    ],
)
def test_a_value_out_of_range_stops_start_up_naming_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=name) as info:
        load({name: value}, str(tmp_path))
    assert message in str(info.value)


def test_other_databases_require_a_shared_secret_and_keys(tmp_path):
    env = {"STOREFRONT_DATABASE_URL": "postgresql+psycopg://db/shop"}
    with pytest.raises(ConfigError, match="STOREFRONT_SECRET_KEY and STOREFRONT_ENCRYPTION_KEYS"):
        load(env, str(tmp_path))
    with pytest.raises(ConfigError, match="STOREFRONT_ENCRYPTION_KEYS"):
        load({**env, "STOREFRONT_SECRET_KEY": "s"}, str(tmp_path))
    assert not (tmp_path / "encryption_keys").exists()


def test_the_embedded_default_generates_the_secret_and_keys_once_and_keeps_them(tmp_path):
    first = load({}, str(tmp_path))
    second = load({}, str(tmp_path))
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["ENCRYPTION_KEYS"] == second["ENCRYPTION_KEYS"]
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert oct((tmp_path / "encryption_keys").stat().st_mode & 0o777) == "0o600"
    assert first["MAX_LINES"] == 2000 and first["MAX_LINE_QUANTITY"] == 999
    assert first["SESSION_TIMEOUT_MINUTES"] == 30 and first["GUEST_CART_DAYS"] == 7
