"""Cart tables. Only ``cart.store`` reads or writes them.

Everything that says what is in a cart (state, revisions' operations, snapshots, remembered
idempotency results) is an AES-GCM envelope bound to its cart; the clear columns hold only ids,
counters, times and a device code.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, SmallInteger, text
from sqlalchemy.orm import Mapped, mapped_column

from storefront.cart.types import CartStatus
from storefront.clock import now
from storefront.dbtypes import UTCDateTime
from storefront.extensions import db


class Cart(db.Model):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    # SHA-256 of the guest's cookie token: the cookie alone can open the cart.
    guest_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    # The one other account that shares this cart (its own cart is set aside meanwhile), and
    # the version at which sharing began: the member sees no history before it.
    member_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_carts_member_user_id")
    )
    shared_from: Mapped[int | None] = mapped_column()
    status: Mapped[CartStatus] = mapped_column(
        # Stored as its text in a VARCHAR(16), as before the enum existed; no CHECK constraint.
        Enum(
            CartStatus, native_enum=False, length=16, values_callable=lambda e: [s.value for s in e]
        ),
        default=CartStatus.OPEN,
    )
    version: Mapped[int] = mapped_column(default=0)
    state: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Bytes of operations written since the last snapshot; decides when the next one is due.
    ops_since_snapshot: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (Index("uq_carts_member_user_id", "member_user_id", unique=True),)


class CartRevision(db.Model):
    __tablename__ = "cart_revisions"

    cart_id: Mapped[int] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[int] = mapped_column(SmallInteger)
    device: Mapped[int] = mapped_column(SmallInteger)
    op: Mapped[bytes] = mapped_column(LargeBinary)
    # Who made it, written only while the cart is shared (history and notices name them).
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_cart_revisions_actor_id")
    )

    __table_args__ = (
        Index(
            "ix_cart_revisions_actor_id",
            "actor_id",
            postgresql_where=text("actor_id IS NOT NULL"),
            sqlite_where=text("actor_id IS NOT NULL"),
        ),
        {"sqlite_with_rowid": False},
    )


class CartSnapshot(db.Model):
    """The whole cart as of ``version``, so a restore replays a bounded number of operations."""

    __tablename__ = "cart_snapshots"

    cart_id: Mapped[int] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = ({"sqlite_with_rowid": False},)


class IdempotencyRecord(db.Model):
    __tablename__ = "idempotency_keys"

    cart_id: Mapped[int] = mapped_column(
        ForeignKey("carts.id", ondelete="CASCADE"), primary_key=True
    )
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(16))
    result: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (
        Index("ix_idempotency_keys_created_at", "created_at"),
        {"sqlite_with_rowid": False},
    )


class EncryptionKeyInUse(db.Model):
    """Every key id that has sealed data, so start-up can refuse keys it was not given."""

    __tablename__ = "encryption_keys_in_use"

    key_id: Mapped[bytes] = mapped_column(LargeBinary(4), primary_key=True)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
