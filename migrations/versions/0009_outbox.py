"""Email: the outbox, shoppers' choice about cart reminders, and the reminders sent.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dedupe_key", sa.String(120), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TIME, nullable=False),
        sa.Column("lease_until", UTC_TIME, nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("sent_at", UTC_TIME, nullable=True),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("cart_reminders", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "cart_reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "cart_id", sa.Integer(), sa.ForeignKey("carts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("prices", sa.Text(), nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("recovered_at", UTC_TIME, nullable=True),
        sa.Column("order_number", sa.Integer(), nullable=True),
        sa.UniqueConstraint("cart_id", "version", name="uq_cart_reminders_cart_version"),
    )
    op.create_index("ix_cart_reminders_user_id", "cart_reminders", ["user_id"])


def downgrade():
    op.drop_table("cart_reminders")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("cart_reminders")
    op.drop_table("outbox")
