"""Commerce events for the analytics, written in the transaction of what they describe.

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "commerce_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("shopper", sa.LargeBinary(16), nullable=False),
        sa.Column("peer", sa.LargeBinary(16), nullable=True),
        sa.Column("device", sa.SmallInteger(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("order_number", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("cart_units", sa.Integer(), nullable=True),
    )
    op.create_index("ix_commerce_events_at", "commerce_events", ["at"])
    op.create_index("ix_commerce_events_kind_at", "commerce_events", ["kind", "at"])
    op.create_index(
        "ix_commerce_events_order_number",
        "commerce_events",
        ["order_number"],
        sqlite_where=sa.text("order_number IS NOT NULL"),
        postgresql_where=sa.text("order_number IS NOT NULL"),
    )


def downgrade():
    op.drop_table("commerce_events")
