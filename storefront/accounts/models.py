from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_support: Mapped[bool] = mapped_column(default=False)
    # Runs the back office (/admin). A separate role from support's cart recovery.
    is_staff: Mapped[bool] = mapped_column(default=False)
    # Allowed a reminder email about a cart left idle (off unless the shopper ticks it).
    cart_reminders: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    # Flask-Login stores this in the cookie: the device's session token, not the user id, so
    # signing out (or an idle timeout) on one device ends exactly that device's session.
    session_token: str = ""

    def get_id(self) -> str:
        return self.session_token


class AuthSession(db.Model):
    """One signed-in device."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    device: Mapped[int] = mapped_column(SmallInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
