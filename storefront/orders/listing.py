"""The back office's order list: filter by status, find by number or exact email, newest first.

Emails are sealed inside each order, so they cannot be searched as text: an exact-email search
compares the keyed hash each order carries (email_hash.py). Partial email search is not
offered: it would need the emails in the clear, or every order unsealed per search.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select, update

from storefront.cart.sealing import keyring
from storefront.database import write
from storefront.extensions import db
from storefront.orders import email_hash
from storefront.orders.models import Order
from storefront.orders.services import STATUS_WORDS, order_aad

PAGE_SIZE = 25
STATUSES = tuple(STATUS_WORDS)
FILL_BATCH = 200


def fill_email_hashes() -> int:
    """Hash the emails of orders placed before hashes existed (revision 0005); how many."""
    filled = 0
    while True:
        rows = db.session.execute(
            select(Order.id, Order.number, Order.sealed)
            .where(Order.email_hash.is_(None))
            .limit(FILL_BATCH)
        ).all()
        if not rows:
            return filled

        def fill(rows=rows):
            for order_id, number, sealed in rows:
                email = json.loads(keyring().open(sealed, order_aad(number)))["email"]
                db.session.execute(
                    update(Order)
                    .where(Order.id == order_id, Order.email_hash.is_(None))
                    .values(email_hash=email_hash.of(email))
                )

        write(fill)
        filled += len(rows)


@dataclass(frozen=True)
class Query:
    status: str = ""  # one of STATUSES, or "" for all
    search: str = ""  # an order number, or an exact email
    page: int = 1


def parse(args) -> Query:
    """The list's query string, read leniently: an unknown status or page is ignored."""
    status = args.get("status", "")
    page = args.get("page", "1")
    return Query(
        status=status if status in STATUSES else "",
        search=args.get("q", "").strip()[:254],
        page=int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1,
    )


def _searched(query, search: str):
    if not search:
        return query
    number = search.removeprefix("#")
    if number.isascii() and number.isdigit():
        return query.where(Order.number == int(number)) if len(number) <= 9 else query.where(False)
    if "@" in search:
        fill_email_hashes()
        return query.where(Order.email_hash == email_hash.of(search))
    return query.where(False)


def orders(q: Query, *, page_size: int | None = None) -> tuple[list[Order], int]:
    """One page of matching orders, newest first, and how many match in all."""
    page_size = page_size or PAGE_SIZE
    query = _searched(select(Order), q.search)
    if q.status:
        query = query.where(Order.status == q.status)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Order.placed_at.desc(), Order.number.desc())
        .limit(page_size)
        .offset((max(q.page, 1) - 1) * page_size)
    )
    return list(rows), total
