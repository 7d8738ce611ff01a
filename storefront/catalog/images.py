"""Products' images: the table, where the files live, and what staff do with them (add, describe,
reorder, delete). Checking and resizing an upload is imaging.py's job.

Files are named by a hash of the uploaded bytes and the rendition's width
(``<hash>-<width>.webp``) under ``MEDIA_DIR``: no part of a path comes from the person who
uploaded it, and a name never changes meaning, so the files can be cached for a year.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from flask import current_app
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, bindparam, func, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from storefront.accounts.models import User
from storefront.admin import audit
from storefront.catalog import imaging
from storefront.catalog.models import Product
from storefront.clock import now
from storefront.database import begin_write, dialect_name, reading_apart
from storefront.dbtypes import UTCDateTime
from storefront.errors import DomainError, NotFound
from storefront.extensions import db
from storefront.prepared import Prepared

MAX_ALT = 250
MAX_IMAGES = 20
FILE_NAME = re.compile(r"(?P<digest>[0-9a-f]{32})-(?P<width>[0-9]{1,4})\.(?P<kind>webp|jpg)")
MIMETYPES = {"webp": "image/webp", "jpg": "image/jpeg"}


class ProductImage(db.Model):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    # The first (lowest) is the one listings and carts show.
    position: Mapped[int] = mapped_column(Integer, default=0)
    alt_text: Mapped[str] = mapped_column(String(MAX_ALT))
    digest: Mapped[str] = mapped_column(String(32), index=True)
    # The renditions made, comma-separated ("320,640,1280"), and the oriented original's size,
    # from which each rendition's height follows (width and height attributes: no layout shift).
    widths: Mapped[str] = mapped_column(String(40))
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)

    __table_args__ = (
        Index("ix_product_images_product_position", "product_id", "position"),
        CheckConstraint("length(alt_text) > 0", name="ck_product_images_alt"),
        CheckConstraint("width > 0 AND height > 0", name="ck_product_images_size"),
    )


class InvalidImage(DomainError):
    code = "invalid_image"


@dataclass(frozen=True, slots=True)
class Picture:
    """One image as a page shows it."""

    id: int
    digest: str
    alt: str
    widths: tuple[int, ...]
    width: int
    height: int
    position: int = 0

    def url(self, width: int) -> str:
        return f"/media/{self.digest}-{width}.webp"

    @property
    def share_url(self) -> str:
        """The JPEG of the largest width, for link previews (Open Graph)."""
        return f"/media/{self.digest}-{self.widths[-1]}.jpg"

    def height_at(self, width: int) -> int:
        return max(1, round(self.height * width / self.width))

    def fallback_width(self, wanted: int = 640) -> int:
        """The rendition ``src`` names, for browsers that ignore ``srcset``."""
        fits = [w for w in self.widths if w >= wanted]
        return fits[0] if fits else self.widths[-1]

    @property
    def srcset(self) -> str:
        return ", ".join(f"{self.url(w)} {w}w" for w in self.widths)


def _picture(row: ProductImage) -> Picture:
    return Picture(
        id=row.id,
        digest=row.digest,
        alt=row.alt_text,
        widths=_widths(row.widths),
        width=row.width,
        height=row.height,
        position=row.position,
    )


def media_dir() -> Path:
    return Path(current_app.config["MEDIA_DIR"])


# ---- reading ------------------------------------------------------------------------------


def for_product(product_id: int) -> list[Picture]:
    rows = db.session.scalars(
        select(ProductImage)
        .where(ProductImage.product_id == product_id)
        .order_by(ProductImage.position, ProductImage.id)
    )
    return [_picture(row) for row in rows]


def _first_images():
    """Each product's first image: the row whose position no other image of it undercuts."""
    other = aliased(ProductImage)
    first = (
        select(func.min(other.position))
        .where(other.product_id == ProductImage.product_id)
        .scalar_subquery()
    )
    return select(ProductImage).where(ProductImage.position == first)


# Built once: every pushed cart change looks its lines' pictures up, and building this
# statement anew (an alias, a correlated subquery) cost more than running it.
@cache
def _first_by_product_id_statement():
    ids = bindparam("ids", expanding=True)
    return _first_images().where(ProductImage.product_id.in_(ids)).order_by(ProductImage.id)


@cache
def _first_by_sku_statement(dialect: str) -> Prepared:
    """Table columns on the driver's cursor (storefront/prepared.py): every pushed cart change
    runs it, and through the ORM it cost about a fifth of an add with a page listening (issue
    10). The SKUs are one bound parameter, as in the catalog's own look-ups."""
    image, product = ProductImage.__table__.c, Product.__table__.c
    other = ProductImage.__table__.alias("other")
    first = (
        select(func.min(other.c.position))
        .where(other.c.product_id == image.product_id)
        .scalar_subquery()
    )
    columns = (
        product.sku,
        image.id,
        image.digest,
        image.alt_text,
        image.widths,
        image.width,
        image.height,
        image.position,
    )
    pictured = Product.__table__.join(ProductImage.__table__, image.product_id == product.id)
    if dialect == "sqlite":
        listed = func.json_each(bindparam("skus")).table_valued("value").alias("listed")
        found = select(*columns).select_from(listed.join(pictured, product.sku == listed.c.value))
    else:
        skus = bindparam("skus", type_=ARRAY(String))
        found = select(*columns).select_from(pictured).where(product.sku == func.any(skus))
    return Prepared(found.where(image.position == first).order_by(image.id))


def first_by_product_id(product_ids: Iterable[int]) -> dict[int, Picture]:
    """The first image of each product, in one query however many products."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    found: dict[int, Picture] = {}
    for row in db.session.scalars(_first_by_product_id_statement(), {"ids": ids}):
        found.setdefault(row.product_id, _picture(row))
    return found


def first_by_sku(skus: Iterable[str]) -> dict[str, Picture]:
    """The same for cart lines, which know their products by SKU: one query for a whole page
    of lines, never one per line."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    dialect = dialect_name()
    listed = json.dumps(wanted) if dialect == "sqlite" else wanted
    found: dict[str, Picture] = {}
    with reading_apart():
        rows = _first_by_sku_statement(dialect).all({"skus": listed})
    for sku, *row in rows:
        found.setdefault(sku, Picture(*row[:3], _widths(row[3]), *row[4:]))
    return found


def _widths(listed: str) -> tuple[int, ...]:
    return tuple(int(w) for w in listed.split(","))


# ---- staff changes ------------------------------------------------------------------------


def clean_alt(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidImage(
            "Describe the image in a few words (alt text): people who cannot see it hear this."
        )
    text = " ".join(text.split())
    if len(text) > MAX_ALT:
        raise InvalidImage(f"The alt text is too long: {MAX_ALT} characters at most.")
    return text


def add(staff: User, product: Product, file_name: str | None, data: bytes, alt: object) -> Picture:
    """Check the upload, write its renditions, record it; nothing is stored when refused."""
    alt_text = clean_alt(alt)
    try:
        imaging.check_file_name(file_name)
        processed = imaging.process(data)
    except imaging.ImageRefused as refused:
        raise InvalidImage(str(refused)) from None
    # The checks below and the new row in one write transaction: two uploads at once cannot
    # both pass the limit or both add the same picture.
    begin_write()
    images = for_product(product.id)
    refusal = None
    if any(image.digest == processed.digest for image in images):
        refusal = "This image is already one of the product's images."
    elif len(images) >= MAX_IMAGES:
        refusal = f"A product has at most {MAX_IMAGES} images: delete one first."
    if refusal:
        db.session.rollback()  # lets go of the write lock at once
        raise InvalidImage(refusal)
    written = _write_files(processed)
    row = ProductImage(
        product_id=product.id,
        position=(images[-1].position + 1) if images else 0,
        alt_text=alt_text,
        digest=processed.digest,
        widths=",".join(str(r.width) for r in processed.renditions),
        width=processed.width,
        height=processed.height,
    )
    db.session.add(row)
    audit.record(
        staff, "product.image.add", product.sku, {}, {"image": row.digest, "alt": alt_text}
    )
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    # Another product's last copy of the same picture may have been deleted, its files with
    # it, between our writing them and our commit: put back whatever is missing.
    _write_files(processed)
    return _picture(row)


def _write_files(processed: imaging.Processed) -> list[Path]:
    """Each rendition written atomically (a reader never sees half a file); returns the files
    this call created, to take back if the database refuses the row."""
    folder = media_dir()
    folder.mkdir(parents=True, exist_ok=True)
    created = []
    for rendition in (*processed.renditions, processed.share):
        path = folder / f"{processed.digest}-{rendition.width}.{rendition.extension}"
        if path.exists():  # the same bytes uploaded for another product
            continue
        tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(rendition.data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        created.append(path)
    return created


def _commit() -> None:
    """Commit a change to an existing image. Another member of staff may have deleted it since
    it was read: they are told it is gone, rather than shown an error page."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise NotFound("That image was deleted in the meantime.") from None


def _row(product: Product, image_id: int) -> ProductImage:
    row = db.session.get(ProductImage, image_id)
    if row is None or row.product_id != product.id:
        raise NotFound("That image is not one of this product's images.")
    return row


def set_alt(staff: User, product: Product, image_id: int, alt: object) -> None:
    row = _row(product, image_id)
    alt_text = clean_alt(alt)
    if alt_text == row.alt_text:
        return
    audit.record(
        staff,
        "product.image.alt",
        product.sku,
        {"image": row.digest, "alt": row.alt_text},
        {"image": row.digest, "alt": alt_text},
    )
    row.alt_text = alt_text
    _commit()


def move(staff: User, product: Product, image_id: int, direction: str) -> None:
    """One place earlier or later; the first image is the one shoppers see in lists."""
    if direction not in ("up", "down"):
        raise InvalidImage("Move an image up or down.")
    row = _row(product, image_id)
    rows = list(
        db.session.scalars(
            select(ProductImage)
            .where(ProductImage.product_id == product.id)
            .order_by(ProductImage.position, ProductImage.id)
        )
    )
    if row not in rows:
        raise NotFound("That image was deleted in the meantime.")
    at = rows.index(row)
    to = at - 1 if direction == "up" else at + 1
    if not 0 <= to < len(rows):
        return
    rows[at], rows[to] = rows[to], rows[at]
    for position, each in enumerate(rows):
        each.position = position
    audit.record(
        staff, "product.image.move", product.sku, {"position": at + 1}, {"position": to + 1}
    )
    _commit()


def delete(staff: User, product: Product, image_id: int) -> None:
    row = _row(product, image_id)
    digest, widths = row.digest, row.widths
    audit.record(
        staff, "product.image.delete", product.sku, {"image": digest, "alt": row.alt_text}, {}
    )
    # A statement, not session.delete: it counts the rows it removed, so a second member of
    # staff deleting the same image is told so, and the log holds one deletion.
    deleted = db.session.execute(sa_delete(ProductImage).where(ProductImage.id == row.id))
    if deleted.rowcount != 1:
        db.session.rollback()
        raise NotFound("That image was deleted in the meantime.")
    db.session.commit()
    # After the commit: a failed delete keeps its files. Another product may show the same
    # picture (same bytes, same names): its files stay.
    still_used = db.session.scalar(
        select(func.count()).select_from(ProductImage).where(ProductImage.digest == digest)
    )
    if not still_used:
        names = [f"{digest}-{width}.webp" for width in widths.split(",")]
        names.append(f"{digest}-{widths.split(',')[-1]}.jpg")
        for name in names:
            (media_dir() / name).unlink(missing_ok=True)
