"""Handoff codes (a guest's cart continued on another device) and lines saved for later.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "handoff_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        # A keyed hash of the code: the code itself is never stored.
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column(
            "cart_id", sa.Integer(), sa.ForeignKey("carts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("cart_version", sa.Integer(), nullable=False),
        # The guest token that opens the cart, sealed under the cart keyring.
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_handoff_codes_cart_id", "handoff_codes", ["cart_id"])
    op.create_index("ix_handoff_codes_expires_at", "handoff_codes", ["expires_at"])
    op.create_table(
        "saved_lines",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column(
            "cart_id", sa.Integer(), sa.ForeignKey("carts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        # The line (SKU, quantity, options, price when added), sealed like the cart's state.
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_saved_lines_cart_id", "saved_lines", ["cart_id", "saved_at"])


def downgrade():
    op.drop_table("saved_lines")
    op.drop_table("handoff_codes")
