"""Shared carts: the member on the cart row, who made each revision, the invitations.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _has_column(table: str, column: str) -> bool:
    # Left by a downgrade on SQLite (see downgrade()).
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _add_user_reference(table: str, column: str) -> None:
    """A nullable column naming an account, cleared when the account is deleted."""
    name = f"fk_{table}_{column}"
    if _has_column(table, column):
        return
    if op.get_bind().dialect.name == "sqlite":
        # SQLite takes a REFERENCES clause in ADD COLUMN (the column defaults to NULL), while
        # Alembic would ask for batch mode, whose copy-drop-rename of carts would cascade-delete
        # every revision of every cart.
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES users (id) ON DELETE SET NULL"
        )
        return
    op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
    op.create_foreign_key(name, table, "users", [column], ["id"], ondelete="SET NULL")


def upgrade():
    _add_user_reference("carts", "member_user_id")
    if not _has_column("carts", "shared_from"):
        op.add_column("carts", sa.Column("shared_from", sa.Integer(), nullable=True))
    op.create_index("uq_carts_member_user_id", "carts", ["member_user_id"], unique=True)
    _add_user_reference("cart_revisions", "actor_id")
    # Deleting an account clears its actor ids: without an index that scans every revision.
    # Partial: the revisions of unshared carts (nearly all) stay out of it and cost it nothing.
    op.create_index(
        "ix_cart_revisions_actor_id",
        "cart_revisions",
        ["actor_id"],
        postgresql_where=sa.text("actor_id IS NOT NULL"),
        sqlite_where=sa.text("actor_id IS NOT NULL"),
    )
    op.create_table(
        "cart_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column(
            "cart_id",
            sa.Integer(),
            sa.ForeignKey("carts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME, nullable=True),
        sa.Column(
            "used_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.create_index("ix_cart_invitations_cart_id", "cart_invitations", ["cart_id"])


def downgrade():
    op.drop_table("cart_invitations")
    op.drop_index("ix_cart_revisions_actor_id", table_name="cart_revisions")
    op.drop_index("uq_carts_member_user_id", table_name="carts")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops no column a foreign key names, and batch mode's copy-drop-rename of
        # carts would cascade-delete every revision (foreign keys cannot be switched off inside
        # the migration's transaction). The columns stay, emptied: code before 0012 never
        # reads them, and upgrading again finds and reuses them.
        op.execute("UPDATE carts SET member_user_id = NULL, shared_from = NULL")
        op.execute("UPDATE carts SET status = 'open' WHERE status = 'aside'")
        return
    op.drop_constraint("fk_cart_revisions_actor_id", "cart_revisions", type_="foreignkey")
    op.drop_constraint("fk_carts_member_user_id", "carts", type_="foreignkey")
    op.drop_column("cart_revisions", "actor_id")
    op.drop_column("carts", "shared_from")
    op.drop_column("carts", "member_user_id")
