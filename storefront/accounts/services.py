"""Accounts: register, authenticate, and one server-side session per signed-in device."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from storefront import clock, cooperative, database
from storefront.accounts.models import AuthSession, User
from storefront.cart import store as cart_store
from storefront.cart.types import Owner
from storefront.database import begin_write
from storefront.errors import DomainError
from storefront.extensions import db
from storefront.mail.address import is_sendable
from storefront.sharing import services as sharing

MIN_PASSWORD, MAX_PASSWORD = 8, 1000
# Last-seen is written at most this often, so page views do not turn into a write each.
SEEN_RESOLUTION = timedelta(seconds=30)

hasher = PasswordHasher()


def _hash(password: str) -> str:
    # Argon2 is slow on purpose (tens of ms of C): off the gevent hub, so the worker's other
    # requests and sockets keep moving meanwhile.
    return cooperative.blocking(hasher.hash, password)


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a miss takes as long as a wrong password."""
    return _hash(secrets.token_urlsafe(16))


class AccountError(DomainError):
    code = "invalid_account"


def normalise_email(email: object) -> str:
    return email.strip().lower() if isinstance(email, str) else ""


def check_new_credentials(email: str, password: object) -> None:
    if not is_sendable(email):
        raise AccountError("Please enter a valid email address.")
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"Please choose a password of at least {MIN_PASSWORD} characters.")


def register(
    email: object, password: object, guest: Owner | None = None, *, cart_reminders: bool = False
) -> User:
    """A new account; the guest's cart (if any) becomes its cart, in the same transaction."""
    email = normalise_email(email)
    check_new_credentials(email, password)
    password_hash = _hash(password)  # slow on purpose: before the write lock, not in it
    begin_write()
    user = User(
        email=email,
        password_hash=password_hash,
        created_at=clock.now(),
        cart_reminders=cart_reminders,
    )
    db.session.add(user)
    try:
        db.session.flush()
        if guest is not None:
            cart_store.adopt(guest, user.id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise AccountError(
            "That email cannot be registered. If it is yours, sign in instead."
        ) from None
    return user


def authenticate(email: object, password: object) -> User | None:
    email = normalise_email(email)
    if not isinstance(password, str) or len(password) > MAX_PASSWORD:
        password = ""
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    try:
        cooperative.blocking(hasher.verify, user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start_session(user: User, device: int) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    db.session.add(
        AuthSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            device=device,
            created_at=now,
            last_seen_at=now,
        )
    )
    db.session.commit()
    user.session_token = token
    return token


def end_session(token: str) -> None:
    db.session.execute(delete(AuthSession).where(AuthSession.token_hash == _token_hash(token)))
    db.session.commit()


def _deadline(record: AuthSession) -> datetime:
    """A signed-in device session ends this long after it was last active."""
    return record.last_seen_at + current_app.config["SESSION_TIMEOUT"]


def session_deadline(token: str) -> datetime | None:
    """When this device session ends unless something renews it (None: it has ended)."""
    record = db.session.get(AuthSession, _token_hash(token))
    return None if record is None else _deadline(record)


def resume_session(token: str, *, renew: bool) -> User | None:
    """The user of a live session; an idle one is ended. ``renew`` counts this as activity."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    record = db.session.get(AuthSession, _token_hash(token))
    if record is None:
        return None
    now = clock.now()
    key = record.token_hash
    if now > _deadline(record):
        _write_session(delete(AuthSession).where(AuthSession.token_hash == key))
        return None
    user = db.session.get(User, record.user_id)
    if user is None:
        return None
    if renew and now - record.last_seen_at >= SEEN_RESOLUTION:
        _write_session(
            update(AuthSession).where(AuthSession.token_hash == key).values(last_seen_at=now)
        )
    user.session_token = token
    return user


def _write_session(statement) -> None:
    """A session's renewal or end, as a write transaction of its own, begun as one: the
    reads before it ran in a plain transaction, and SQLite cannot turn that into a writer once
    another process has written since it began ("database is locked", seen with two
    instances on one file). Rare (twice a minute per device at most), so its cost is no matter."""
    database.write(lambda: db.session.execute(statement))


def session_key(token: str) -> str:
    """A name for a device session that does not reveal its token (sockets are filed by it)."""
    return _token_hash(token).hex()


def renew_session(token: str) -> None:
    statement = update(AuthSession).where(AuthSession.token_hash == _token_hash(token))
    _write_session(statement.values(last_seen_at=clock.now()))


def _user_by_email(email: object) -> User:
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise AccountError("There is no account with that email.")
    return user


def set_role(email: object, role: str, value: bool) -> None:
    """Grant or revoke ``support`` (cart recovery) or ``staff`` (the back office)."""
    if role not in ("support", "staff"):
        raise ValueError(role)
    setattr(_user_by_email(email), f"is_{role}", value)
    db.session.commit()


def set_cart_reminders(user: User, allowed: bool) -> None:
    user.cart_reminders = allowed
    db.session.commit()


def set_password(email: object, password: object) -> None:
    """A new password; every signed-in session of the account ends with the old one."""
    user = _user_by_email(email)
    check_new_credentials(user.email, password)
    replace_password(user, _hash(password))
    db.session.commit()


def new_password_hash(email: str, password: object) -> str:
    """Check a new password and hash it (slow on purpose: call it before taking any lock)."""
    check_new_credentials(email, password)
    return _hash(password)


def replace_password(user: User, password_hash: str) -> None:
    """Inside a transaction: the new hash, and every signed-in session of the account ended."""
    user.password_hash = password_hash
    db.session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))


def sessions_of(user: User) -> list[AuthSession]:
    return list(
        db.session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user.id)
            .order_by(AuthSession.created_at)
        )
    )


def delete_account(user: User, password: object) -> int | None:
    """Delete the account with its carts, history and sessions (the database cascades).
    Returns the account it shared a cart with, if any (whose pages must hear of it)."""
    if authenticate(user.email, password) is None:
        raise AccountError("That password is not right; your account was not deleted.")
    cart_ids = cart_store.user_cart_ids(user.id)
    ended = sharing.end_before_deletion(user.id)
    db.session.delete(user)
    db.session.commit()
    cart_store.forget_decoded(cart_ids)
    if ended is None:
        return None
    return ended.member_id if ended.owner_id == user.id else ended.owner_id
