"""Order handling in the back office: each order's timeline, refunded amount, tracking note, and
a keyed hash of its email so staff can find orders by email while the email stays sealed.

Revision ID: 0005
Revises: 0009
Create Date: 2026-12-02

The email hash needs the app's secret, which a migration should not depend on: orders placed
before this revision get theirs the first time staff search by email
(``storefront/orders/listing.py: fill_email_hashes``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("email_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("refunded", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("tracking", sa.String(500), nullable=True))
        batch.create_check_constraint("ck_orders_refunded", "refunded >= 0 AND refunded <= total")
        batch.create_index("ix_orders_email_hash", ["email_hash"])
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "order_id",
            sa.Integer(),
            sa.ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "staff_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
    )
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])


def downgrade():
    op.drop_table("order_events")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_email_hash")
        batch.drop_constraint("ck_orders_refunded", type_="check")
        batch.drop_column("tracking")
        batch.drop_column("refunded")
        batch.drop_column("email_hash")
