"""Forgotten passwords: a signed link, valid one hour, bound to the account's current password.

The token holds the account id and a keyed fingerprint of the password hash. Setting a new
password (by this link or any other way) changes the hash, so the link, and every older link,
stops working: single use without a table of used tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select

from storefront import clock
from storefront.accounts import services
from storefront.accounts.models import User
from storefront.database import write
from storefront.errors import DomainError
from storefront.extensions import db
from storefront.mail import outbox
from storefront.mail.models import OutboxMessage

VALID_FOR = timedelta(hours=1)
# However many addresses ask, one account gets at most this many reset emails an hour.
PER_ACCOUNT_PER_HOUR = 3


class ResetRefused(DomainError):
    code = "invalid_reset_link"


class _ShopClockSigner(TimestampSigner):
    """Link ages on the shop's clock (storefront.clock), the one every other expiry uses."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt="password-reset", signer=_ShopClockSigner
    )


def _fingerprint(user: User) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def token_for(user: User) -> str:
    return _serializer().dumps([user.id, _fingerprint(user)])


def request_reset(email: object) -> None:
    """Queue the email if the address has an account; the caller answers the same either way."""
    address = services.normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == address)) if address else None
    if user is None or _recent_requests(user) >= PER_ACCOUNT_PER_HOUR:
        db.session.rollback()
        return
    link = current_app.config["PUBLIC_URL"] + url_for(
        "password.reset_password", token=token_for(user)
    )
    outbox.queue_email(
        "password_reset",
        f"password-reset:{user.id}:{secrets.token_hex(8)}",
        user.email,
        "reset your password",
        {"link": link, "valid_minutes": int(VALID_FOR.total_seconds() // 60)},
    )
    db.session.commit()


def _recent_requests(user: User) -> int:
    since = clock.now() - timedelta(hours=1)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.dedupe_key.startswith(f"password-reset:{user.id}:"),
                OutboxMessage.created_at >= since,
            )
        )
        or 0
    )


def user_for(token: str, *, lock: bool = False) -> User:
    """The account the link resets, or a refusal saying why in words. ``lock`` (inside a write
    transaction, about to change the password): the row is locked and read afresh, so two uses
    of one link cannot both pass the check."""
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=int(VALID_FOR.total_seconds()))
    except SignatureExpired:
        raise ResetRefused(
            "This link has expired: reset links work for one hour. Ask for a new one."
        ) from None
    except (BadSignature, ValueError, TypeError):
        raise ResetRefused("This link is not valid. Ask for a new one.") from None
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise ResetRefused("This link is not valid. Ask for a new one.")
    user = db.session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if user is None or not hmac.compare_digest(str(fingerprint), _fingerprint(user)):
        raise ResetRefused(
            "This link was already used, or the password has changed since. Ask for a new one."
        )
    return user


def complete_reset(token: str, password: object, confirm: object) -> User:
    """Once per link: the check and the change are one write transaction."""
    user = user_for(token)
    if confirm is not None and confirm != password:
        raise services.AccountError("The two passwords do not match.")
    password_hash = services.new_password_hash(user.email, password)
    db.session.rollback()

    def change() -> User:
        locked = user_for(token, lock=True)
        services.replace_password(locked, password_hash)  # also ends every signed-in session
        return locked

    return write(change)
