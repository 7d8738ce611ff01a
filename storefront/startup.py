"""Checks that stop start-up rather than lose data."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import inspect, select

from storefront.cart.models import EncryptionKeyInUse
from storefront.config import ConfigError
from storefront.crypto import key_id
from storefront.extensions import db


def check_keys(app: Flask) -> None:
    """Refuse to start when stored data was sealed under a key we were not given."""
    with app.app_context():
        if not inspect(db.engine).has_table(EncryptionKeyInUse.__tablename__):
            return  # a database not yet upgraded holds no sealed data
        configured = {key_id(k) for k in app.config["ENCRYPTION_KEYS"]}
        used = set(db.session.scalars(select(EncryptionKeyInUse.key_id)))
        missing = sorted(k.hex() for k in used - configured)
        db.session.remove()
    if missing:
        raise ConfigError(
            "stored cart data is encrypted under key id(s) "
            f"{', '.join(missing)}, which STOREFRONT_ENCRYPTION_KEYS does not hold; "
            "add the old key(s) back (keys are never regenerated; see README, 'Keys')"
        )
