"""Selling: shipping methods, tax rates, coupons, checkout details, payment attempts, orders and
the stock ledger; products' stock can no longer go below zero.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Every product's current stock enters the ledger as an ``opening`` movement, so the ledger
reconciles from the first day.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade():
    # SQLite cannot add a CHECK to a table: batch mode copies the table with it.
    with op.batch_alter_table("products") as batch:
        batch.create_check_constraint("ck_products_stock", "stock >= 0")

    op.create_table(
        "shipping_methods",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("free_from", sa.Integer(), nullable=True),
        sa.Column("countries", sa.String(1000), nullable=False),
        sa.Column("needs_address", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("price >= 0", name="ck_shipping_methods_price"),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("on_shipping", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("country", "region", name="uq_tax_rates_place"),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("min_subtotal", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTC_TIME, nullable=True),
        sa.Column("ends_at", UTC_TIME, nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("once_per_customer", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("used >= 0", name="ck_coupons_used"),
        sa.CheckConstraint("usage_limit IS NULL OR used <= usage_limit", name="ck_coupons_limit"),
    )
    op.create_table(
        "coupon_uses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "coupon_id",
            sa.Integer(),
            sa.ForeignKey("coupons.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt_id", sa.String(32), nullable=False),
        sa.Column("customer", sa.LargeBinary(32), nullable=True),
        sa.UniqueConstraint("coupon_id", "customer", name="uq_coupon_uses_customer"),
    )
    op.create_index("ix_coupon_uses_attempt_id", "coupon_uses", ["attempt_id"])
    op.create_table(
        "checkout_details",
        sa.Column(
            "cart_id",
            sa.Integer(),
            sa.ForeignKey("carts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "cart_id",
            sa.Integer(),
            sa.ForeignKey("carts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key_hash", sa.LargeBinary(16), nullable=True),
        sa.Column("request_hash", sa.LargeBinary(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("order_number", sa.Integer(), nullable=False),
        sa.Column("cart_version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=True),
        sa.Column("error_message", sa.String(300), nullable=True),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("settle_by", UTC_TIME, nullable=False),
        sa.UniqueConstraint("cart_id", "key_hash", name="uq_payment_attempts_key"),
    )
    op.create_index("ix_payment_attempts_open", "payment_attempts", ["status", "settle_by"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.Integer(), nullable=False),
    )
    op.bulk_insert(
        sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.Integer)),
        [{"name": "order_number", "value": 1000}],
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.Integer(), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "cart_id",
            sa.Integer(),
            sa.ForeignKey("carts.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("cart_version_before", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.String(32), nullable=False, unique=True),
        sa.Column("currency", sa.String(3), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in ("subtotal", "discount", "shipping", "tax", "tax_included", "total")
        ),
        sa.Column("shipping_method", sa.String(32), nullable=False),
        sa.Column("coupon_code", sa.String(32), nullable=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("payment_reference", sa.String(255), nullable=True),
        sa.Column("placed_at", UTC_TIME, nullable=False),
        sa.Column("paid_at", UTC_TIME, nullable=True),
        sa.Column("hold_until", UTC_TIME, nullable=True),
        sa.Column("closed_at", UTC_TIME, nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "subtotal >= 0 AND discount >= 0 AND shipping >= 0 AND tax >= 0 "
            "AND tax_included >= 0 AND total >= 0",
            name="ck_orders_amounts",
        ),
        sa.CheckConstraint("total = subtotal - discount + shipping + tax", name="ck_orders_total"),
    )
    op.create_index("ix_orders_user_id", "orders", ["user_id"])
    op.create_index("ix_orders_status_hold", "orders", ["status", "hold_until"])
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer(),
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("attempt_id", sa.String(32), nullable=True),
        sa.Column("at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_stock_movements_product_id", "stock_movements", ["product_id"])
    op.create_index("ix_stock_movements_attempt_id", "stock_movements", ["attempt_id"])
    op.execute(
        "INSERT INTO stock_movements (product_id, delta, reason, at) "
        "SELECT id, stock, 'opening', CURRENT_TIMESTAMP FROM products WHERE stock <> 0"
    )


def downgrade():
    for index, table in (
        ("ix_stock_movements_attempt_id", "stock_movements"),
        ("ix_stock_movements_product_id", "stock_movements"),
        ("ix_orders_status_hold", "orders"),
        ("ix_orders_user_id", "orders"),
        ("ix_payment_attempts_open", "payment_attempts"),
        ("ix_coupon_uses_attempt_id", "coupon_uses"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "stock_movements",
        "orders",
        "counters",
        "payment_attempts",
        "checkout_details",
        "coupon_uses",
        "coupons",
        "tax_rates",
        "shipping_methods",
    ):
        op.drop_table(table)
    with op.batch_alter_table("products") as batch:
        batch.drop_constraint("ck_products_stock", type_="check")
