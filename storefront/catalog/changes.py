"""A product's shopper-visible facts before and after a staff change, and telling the open pages.

Whatever changes a product (the back office's forms and JSON, a CSV import, a stock adjustment)
takes a ``snapshot`` before, commits, then calls ``announce(before, snapshot(product))``.

Every open page listens on one catalog channel (``CHANNEL``, beside its shopper's own): a change
is rendered once, session-agnostic, as a control message naming the SKU and carrying what pages
show of it (name, price, availability) and the sentence that tells a shopper; each page applies
the parts it shows, and a cart page whose cart holds the product fetches its own lines and
totals (``GET /cart/catalog``). See docs/ARCHITECTURE.md for why one channel, not one per SKU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import current_app, render_template
from sqlalchemy import select

from storefront import money, realtime
from storefront.catalog.models import Product
from storefront.extensions import db

CHANNEL = "catalog"
# Below this many in stock, pages say how many are left (the product page, the catalog, notices).
LOW_STOCK = 10
# A CSV import can change thousands of products: their events travel this many to a message,
# so one import is a few messages per page, not one per product.
EVENTS_PER_MESSAGE = 100


@dataclass(frozen=True)
class ProductFacts:
    sku: str
    name: str
    price_cents: int
    stock: int
    active: bool

    @property
    def available(self) -> bool:
        return self.active and self.stock > 0


def snapshot(product: Product) -> ProductFacts:
    return ProductFacts(
        sku=product.sku,
        name=product.name,
        price_cents=product.price_cents,
        stock=product.stock,
        active=product.active,
    )


def facts_by_sku() -> dict[str, ProductFacts]:
    """Every product's facts, read as plain rows: what an import compares before and after."""
    c = Product.__table__.c
    rows = db.session.execute(select(c.sku, c.name, c.price_cents, c.stock, c.active)).all()
    return {row[0]: ProductFacts(*row) for row in rows}


def availability(product) -> str:
    """What a page says of a product's availability (a ``Product`` or ``ProductFacts``)."""
    if not product.active:
        return "No longer available."
    if product.stock <= 0:
        return "Out of stock."
    if product.stock < LOW_STOCK:
        return f"Only {product.stock} left."
    return "In stock."


def _plural(name: str) -> str:
    # English plurals of the last word, when it is a plain word ("Red Mugs", "Glasses",
    # "Berries"); anything else is left as it is and phrased around (see _left).
    last = name.rsplit(" ", 1)[-1]
    if not last.isalpha() or last.isupper():
        return ""
    lower = last.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def _left(count: int, name: str) -> str:
    if count == 1:
        return f"Only 1 {name} left."
    plural = _plural(name)
    return f"Only {count} {plural} left." if plural else f"Only {count} of {name} left."


def notice(before: ProductFacts, after: ProductFacts, price: Callable[[int], str]) -> str:
    """What a shopper whose cart holds the product is told, in words ("" if nothing worth
    saying): "Blue Mug is now $4.99, was $5.78." "Only 2 Red Mugs left." "Green Mug is no
    longer available." ``price`` formats an amount in minor units."""
    name = after.name
    if not after.active:
        return f"{name} is no longer available." if before.active else ""
    said = []
    if not before.active:
        said.append(f"{name} is available again." if after.stock > 0 else "")
    if after.price_cents != before.price_cents:
        was = price(before.price_cents)
        said.append(f"{name} is now {price(after.price_cents)}, was {was}.")
    if after.stock != before.stock or not before.active:
        if after.stock <= 0:
            said.append(f"{name} is out of stock.")
        elif after.stock < LOW_STOCK:
            said.append(_left(after.stock, name))
        elif before.stock <= 0 and before.active:
            said.append(f"{name} is back in stock.")
    return " ".join(part for part in said if part)


def _price() -> Callable[[int], str]:
    config = current_app.config
    return lambda cents: money.format_money(cents, config["CURRENCY"], config["LOCALE"])


def render_event(before: ProductFacts, after: ProductFacts) -> str:
    return render_template(
        "catalog/_changed.html",
        product=after,
        words=notice(before, after, _price()),
    )


def announce(before: ProductFacts | None, after: ProductFacts) -> None:
    """Push the change to every open page that shows the product or a cart line of it.

    Called after the change is committed. A product that did not exist before is on no open
    page; a change of nothing a page shows (its description) is not pushed."""
    announce_many([(before, after)])


def announce_many(changes: Iterable[tuple[ProductFacts | None, ProductFacts]]) -> int:
    """``announce`` for many products at once (an import): a few messages instead of one per
    product. Returns how many products' changes were published."""
    events = [render_event(b, a) for b, a in changes if b is not None and b != a]
    for start in range(0, len(events), EVENTS_PER_MESSAGE):
        realtime.publish(CHANNEL, "".join(events[start : start + EVENTS_PER_MESSAGE]))
    return len(events)
