"""Back office: the staff role, the staff audit log, products' meta description.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_staff", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("products") as batch:
        batch.add_column(
            sa.Column("meta_description", sa.String(300), nullable=False, server_default="")
        )
    op.create_table(
        "staff_actions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "staff_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("staff_email", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
    )
    op.create_index("ix_staff_actions_at", "staff_actions", ["at"])
    op.create_index("ix_staff_actions_action", "staff_actions", ["action"])
    op.create_index("ix_staff_actions_subject", "staff_actions", ["subject"])


def downgrade():
    op.drop_table("staff_actions")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("meta_description")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_staff")
