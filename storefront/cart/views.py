"""The cart as pages, pushes and the API show it: live catalog prices, availability, totals.

Money stays in integer cents until it is shown.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from flask import current_app, g

from storefront.cart import lifetime, notices, store
from storefront.cart.state import Cart, Line
from storefront.cart.types import Change, Owner
from storefront.catalog import services as catalog

CENT = Decimal("0.01")
MISSING = catalog.ProductFacts("", "", 0, 0, False)
# Up to this many lines a change describes the whole cart: one catalog look-up of every line
# costs less than the look-up of the changed lines plus a subtotal summed in the database
# (measured: the separate sum was a fifth of a small cart's add). Larger carts sum in SQL.
SMALL_CART = 64


class LineView(NamedTuple):
    """A line as shown. A named tuple, not a frozen dataclass: as immutable, and made in a
    fifth of the time (a frozen dataclass sets each field through ``object.__setattr__``),
    which counts where a 1,000-line cart is described (issue 10)."""

    id: str
    sku: str
    name: str
    quantity: int
    options: dict[str, str]
    unit_cents: int
    available: bool
    in_stock: int
    added_cents: int | None = None  # the unit price when last added (None: not known)

    @property
    def price_changed(self) -> bool:
        """The price differs from the one the shopper added it at (worth saying on the page)."""
        added = self.added_cents
        return self.available and added is not None and added != self.unit_cents

    @property
    def unit_price(self) -> Decimal:
        return self.unit_cents * CENT

    @property
    def line_total(self) -> Decimal:
        return self.unit_cents * self.quantity * CENT


@dataclass(frozen=True)
class CartView:
    cart_id: int | None
    version: int
    lines: tuple[LineView, ...]
    currency: str = "USD"
    kept_until: datetime | None = None  # guests: when the cart is forgotten unless it changes

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def subtotal_cents(self) -> int:
        return sum(ln.unit_cents * ln.quantity for ln in self.lines if ln.available)

    @property
    def subtotal(self) -> Decimal:
        return self.subtotal_cents * CENT

    @property
    def line_count(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class ChangeView:
    """A committed change as its responses and pushes need it: the whole cart's totals, and
    views of only the lines the change added or altered. Describing every line of a 1,000-line
    cart again, for one add, was most of the add's time."""

    cart_id: int | None
    version: int
    item_count: int
    subtotal_cents: int
    line_count: int
    touched: tuple[LineView, ...]
    # The whole cart, described when an answer lists every line or the change is a replayed
    # key (the page asking may have missed everything); None otherwise.
    whole: CartView | None = None
    currency: str = "USD"
    kept_until: datetime | None = None

    @property
    def subtotal(self) -> Decimal:
        return self.subtotal_cents * CENT


@dataclass(frozen=True)
class Glance:
    """What every page's header needs: no catalog look-up."""

    cart_id: int | None
    version: int
    item_count: int


def _line_views(
    lines: Iterable[Line], products: Mapping[str, catalog.ProductFacts] | None = None
) -> tuple[LineView, ...]:
    """Lines with live catalog prices and availability (``products``: already read)."""
    lines = tuple(lines)
    if products is None:
        products = catalog.facts_for(line.sku for line in lines)
    return tuple(_line_view(line, products.get(line.sku, MISSING)) for line in lines)


def _line_view(line: Line, product: catalog.ProductFacts) -> LineView:
    return LineView(
        line.id,
        line.sku,
        product.name or line.sku,
        line.quantity,
        dict(line.options),
        product.price_cents,
        # catalog.subtotal_cents counts the same lines: keep the two rules alike.
        product.active and product.stock > 0,
        product.stock if product.active else 0,
        line.price_cents,
    )


def line_views(lines: Iterable[Line]) -> tuple[LineView, ...]:
    """Lines (a past cart's, a saved list's) with live catalog prices and availability."""
    return _line_views(lines)


def _kept_until(owner: Owner, changed_at: datetime | None) -> datetime | None:
    if not owner.is_guest or changed_at is None:
        return None
    return lifetime.guest_cart_kept_until(changed_at)


def view(owner: Owner) -> CartView:
    """The owner's whole cart."""
    snap = store.read(owner)
    kept_until = _kept_until(owner, snap.changed_at)
    lines = snap.cart.lines
    if len(lines) <= SMALL_CART:
        return CartView(snap.cart_id, snap.version, _line_views(lines), kept_until=kept_until)
    # A large cart shown again unchanged, its products' facts unchanged: the view described
    # last time. Describing 1,000 lines was most of a GET of such a cart (issue 10); reading
    # its products still happens every time, so a price or stock change shows at once. After
    # a change, the lines it did not touch (the same objects) whose product did not change
    # keep their description.
    rows = catalog.fact_rows(line.sku for line in lines)
    described = _described_carts()
    last = described.get(snap.cart_id)
    if (
        last is not None
        and last.cart is snap.cart
        and last.view.version == snap.version
        and last.view.kept_until == kept_until
        and last.rows == rows
    ):
        return last.view
    facts = {row[0]: row for row in rows}
    views = []
    for line in lines:
        row = facts.get(line.sku)
        if last is not None and last.cart.line(line.id) is line and row is not None:
            seen = last.views.get(line.id)
            if seen is not None and last.facts.get(line.sku) == row:
                views.append(seen)
                continue
        views.append(_line_view(line, MISSING if row is None else catalog.ProductFacts(*row)))
    cart_view = CartView(snap.cart_id, snap.version, tuple(views), kept_until=kept_until)
    described[snap.cart_id] = _Described(
        snap.cart, rows, facts, cart_view, {view.id: view for view in views}
    )
    while len(described) > DESCRIBED_CARTS:
        described.popitem(last=False)
    return cart_view


@dataclass(frozen=True, slots=True)
class _Described:
    cart: Cart
    rows: list[tuple]
    facts: dict[str, tuple]  # sku -> its row
    view: CartView
    views: dict[str, LineView]  # line id -> its description


# Large carts kept described per process (the first described goes first): about 1 MB each
# at 1,000 lines.
DESCRIBED_CARTS = 8


def _described_carts() -> OrderedDict:
    return current_app.extensions.setdefault("storefront.described_carts", OrderedDict())


def glance(owner: Owner) -> Glance:
    snap = store.read(owner)
    return Glance(snap.cart_id, snap.version, snap.cart.item_count)


def touched_lines(before: Cart, after: Cart) -> list[Line]:
    """The lines of ``after`` that ``before`` lacks or holds differently."""
    touched = []
    for line in after.lines:
        old = before.line(line.id)
        # Unchanged lines are the very same objects: the identity test spares comparing them.
        if old is not line and old != line:
            touched.append(line)
    return touched


def read_facts_inside(
    change: Change, known: Mapping[str, catalog.ProductFacts] | None = None
) -> None:
    """For ``store.write``'s ``read_after``: read, while the change's connection is at hand,
    the catalog facts that describing a small cart's change will need (``known``: those
    already read), so that the description after the commit needs no transaction of its own.
    A transaction (begin, end, the connection back to the pool) cost as much as the look-up."""
    after = change.after
    if len(after) > SMALL_CART:
        return
    # With the product its notice names (a line removed is no longer in the cart).
    wanted = {line.sku for line in after.lines} | notices.skus_named_by(change)
    known = known or {}
    facts = {sku: known[sku] for sku in wanted & known.keys()}
    if len(facts) < len(wanted):
        facts.update(catalog.facts_for(wanted - facts.keys()))
    g.change_facts = (change.cart_id, change.version, facts)


def _facts_read_for(change: Change) -> Mapping[str, catalog.ProductFacts] | None:
    cart_id, version, facts = g.get("change_facts", (None, None, None))
    if (cart_id, version) != (change.cart_id, change.version) or change.replayed:
        return None
    return facts


def view_change(owner: Owner, change: Change, *, whole_cart: bool = False) -> ChangeView:
    after = change.after
    touched = touched_lines(change.before, after)
    kept_until = _kept_until(owner, change.at)
    if whole_cart or change.replayed or len(after) <= SMALL_CART:
        lines = _line_views(after.lines, _facts_read_for(change))
        whole = CartView(change.cart_id, change.version, lines, kept_until=kept_until)
        ids = {line.id for line in touched}
        return ChangeView(
            change.cart_id,
            change.version,
            whole.item_count,
            whole.subtotal_cents,
            whole.line_count,
            tuple(line for line in whole.lines if line.id in ids),
            whole,
            kept_until=kept_until,
        )
    quantities: Counter[str] = Counter()
    for line in after.lines:
        quantities[line.sku] += line.quantity
    return ChangeView(
        change.cart_id,
        change.version,
        sum(quantities.values()),
        catalog.subtotal_cents(quantities),
        len(after),
        _line_views(touched),
        kept_until=kept_until,
    )


def view_lines_of(owner: Owner, skus: set[str]) -> ChangeView | None:
    """The cart's lines of these products at today's catalog prices, with the whole cart's new
    totals, after a catalog change (None if the cart holds none of them). One scan of the lines
    in memory and one or two look-ups, never one per line: a 1,000-line cart redraws only the
    lines of what changed."""
    snap = store.read(owner)
    lines = [line for line in snap.cart.lines if line.sku in skus]
    if not lines:
        return None
    kept_until = _kept_until(owner, snap.changed_at)
    if len(snap.cart) <= SMALL_CART:
        whole = CartView(snap.cart_id, snap.version, _line_views(snap.cart.lines))
        ids = {line.id for line in lines}
        touched = tuple(line for line in whole.lines if line.id in ids)
        item_count, subtotal = whole.item_count, whole.subtotal_cents
    else:
        touched = _line_views(lines)
        quantities: Counter[str] = Counter()
        for line in snap.cart.lines:
            quantities[line.sku] += line.quantity
        item_count, subtotal = sum(quantities.values()), catalog.subtotal_cents(quantities)
    return ChangeView(
        snap.cart_id,
        snap.version,
        item_count,
        subtotal,
        len(snap.cart),
        touched,
        kept_until=kept_until,
    )


def names_for(
    skus: set[str], known: Iterable[LineView] = (), change: Change | None = None
) -> dict[str, str]:
    """Product names; those of ``known`` lines (just described) and those read for
    ``change`` while it was written (``read_facts_inside``) cost no query."""
    names = {line.sku: line.name for line in known}
    read = _facts_read_for(change) if change is not None else None
    if read:
        names.update((sku, read[sku].name) for sku in skus - names.keys() if sku in read)
    missing = skus - names.keys()
    if missing:
        names.update((sku, facts.name) for sku, facts in catalog.facts_for(missing).items())
    return names
