"""Product images: each product's pictures, in order, with their alt text and renditions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The files themselves live under STOREFRONT_MEDIA_DIR, named by a hash of their content.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "product_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "product_id",
            sa.Integer(),
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("alt_text", sa.String(250), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("widths", sa.String(40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        # Alt text is required: an empty one is refused here too, not only by the form.
        sa.CheckConstraint("length(alt_text) > 0", name="ck_product_images_alt"),
        sa.CheckConstraint("width > 0 AND height > 0", name="ck_product_images_size"),
    )
    op.create_index(
        "ix_product_images_product_position", "product_images", ["product_id", "position"]
    )
    op.create_index("ix_product_images_digest", "product_images", ["digest"])


def downgrade():
    op.drop_table("product_images")
