"""Cart use cases: validate against the catalog, run the pure rules inside the store's
transaction, and return what changed. Versions and idempotency keys are the store's business.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app

from storefront import clock, devices
from storefront.cart import history as cart_history
from storefront.cart import notices, state, store
from storefront.cart.state import (
    AddLine,
    Cart,
    Clear,
    Limits,
    Line,
    MergeIn,
    RemoveLine,
    SetQuantity,
)
from storefront.cart.store import Change, IdempotencyKey, Owner
from storefront.catalog import services as catalog
from storefront.catalog.models import Product
from storefront.catalog.options import InvalidOptionError, normalise
from storefront.catalog.services import ProductFacts
from storefront.errors import InvalidOption, InvalidQuantity, NotFound, UnknownSku

LINE_ID_BYTES = 12
MAX_LINE_ID_LENGTH = 64


@dataclass(frozen=True)
class Request:
    """Who asks, from which device, with which guards (all optional)."""

    owner: Owner
    device: int = 0
    idempotency: IdempotencyKey | None = None
    expected_version: int | None = None


def new_line_id() -> str:
    return secrets.token_urlsafe(LINE_ID_BYTES)


def _limits(products: Mapping[str, Product | ProductFacts]) -> Limits:
    config = current_app.config
    return Limits(
        max_lines=config["MAX_LINES"],
        max_line_quantity=config["MAX_LINE_QUANTITY"],
        stock={sku: p.stock if p.active else 0 for sku, p in products.items()},
    )


def _check_quantity(quantity: object, minimum: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < minimum:
        raise InvalidQuantity(f"Quantity must be a whole number of at least {minimum}.")
    return quantity


def _check_line_id(line_id: object) -> str:
    if not isinstance(line_id, str) or not 0 < len(line_id) <= MAX_LINE_ID_LENGTH:
        raise NotFound("That line is not in your cart.")
    return line_id


def _write(req: Request, decide: store.Decide, *, create: bool = True) -> Change:
    return store.write(
        req.owner,
        decide,
        device=req.device,
        idempotency=req.idempotency,
        expected_version=req.expected_version,
        create=create,
    )


def add_line(req: Request, sku: object, quantity: object, options: object = None) -> Change:
    quantity = _check_quantity(quantity, 1)
    product = catalog.by_sku(sku) if isinstance(sku, str) else None
    if product is None:
        shown = sku if isinstance(sku, str) and len(sku) <= 64 else "that SKU"
        raise UnknownSku(f"There is no product {shown!r}.")
    try:
        chosen = normalise(product.option_specs, {} if options is None else options)
    except InvalidOptionError as exc:
        raise InvalidOption(str(exc)) from None
    op = AddLine(new_line_id(), product.sku, quantity, state.options_key(chosen))
    limits = _limits({product.sku: product})
    return _write(req, lambda cart: (op, state.apply(cart, op, limits)))


def set_quantity(req: Request, line_id: object, quantity: object) -> Change:
    line_id, quantity = _check_line_id(line_id), _check_quantity(quantity, 0)

    def decide(cart: Cart):
        line = cart.line(line_id)
        if line is None:
            raise NotFound("That line is not in your cart.")
        op = SetQuantity(line_id, quantity, line.sku)
        return op, state.apply(cart, op, _limits(catalog.facts_for([line.sku])))

    return _write(req, decide, create=False)


def remove_line(req: Request, line_id: object) -> Change:
    line_id = _check_line_id(line_id)

    def decide(cart: Cart):
        line = cart.line(line_id)
        op = RemoveLine(line_id, line.sku if line else "")
        return op, state.apply(cart, op)

    return _write(req, decide, create=False)


def clear(req: Request) -> Change:
    # Clearing an empty cart is still a change the shopper asked for: it gets its revision.
    return _write(req, lambda cart: (Clear(), state.EMPTY))


@dataclass(frozen=True)
class MergeResult:
    change: Change
    report: state.MergeReport


def merge_guest_cart(guest: Owner, user_id: int, device: int) -> MergeResult:
    """Sign-in: move the guest's cart into the account's, as one revision (or none if empty)."""
    report = state.MergeReport()

    def decide(account: Cart):
        nonlocal report
        guest_cart = store.take_guest_cart(guest)
        if not guest_cart.lines:
            return None, account
        limits = _limits(catalog.facts_for(line.sku for line in guest_cart.lines))
        merged, report = state.merge(account, guest_cart, limits)
        return (MergeIn(report.merged) if report.merged else None), merged

    change = store.write(Owner.user(user_id), decide, source=store.MERGE, device=device)
    return MergeResult(change, report)


def adopt_guest_cart(guest: Owner, user_id: int) -> None:
    store.adopt(guest, user_id)


# --- reading ----------------------------------------------------------------------------------


CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LineView:
    id: str
    sku: str
    name: str
    quantity: int
    options: dict[str, str]
    unit_cents: int  # money stays in integer cents; Decimal only when shown
    available: bool
    in_stock: int

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

    @property
    def subtotal(self) -> Decimal:
        return self.subtotal_cents * CENT


MISSING = catalog.ProductFacts("", "", 0, 0, False)


def _line_views(lines: Iterable[Line]) -> tuple[LineView, ...]:
    """Lines with live catalog prices and availability."""
    lines = tuple(lines)
    products = catalog.facts_for(line.sku for line in lines)
    views = []
    for line in lines:
        product = products.get(line.sku, MISSING)
        views.append(
            LineView(
                line.id,
                line.sku,
                product.name or line.sku,
                line.quantity,
                dict(line.options),
                product.price_cents,
                # catalog.subtotal_cents counts the same lines: keep the two rules alike.
                product.active and product.stock > 0,
                product.stock if product.active else 0,
            )
        )
    return tuple(views)


def describe(cart_id: int | None, version: int, cart: Cart) -> CartView:
    """The whole cart with live catalog prices and availability."""
    return CartView(cart_id, version, _line_views(cart.lines))


def view(owner: Owner) -> CartView:
    snap = store.read(owner)
    return describe(snap.cart_id, snap.version, snap.cart)


def view_after(change: Change) -> CartView:
    """The whole cart as a change left it (for answers that list every line)."""
    return describe(change.cart_id, change.version, change.after)


def touched_lines(before: Cart, after: Cart) -> list[Line]:
    """The lines of ``after`` that ``before`` lacks or holds differently."""
    touched = []
    for line in after.lines:
        old = before.line(line.id)
        # Unchanged lines are the very same objects: the identity test spares comparing them.
        if old is not line and old != line:
            touched.append(line)
    return touched


def view_change(change: Change, *, whole_cart: bool = False) -> ChangeView:
    after = change.after
    touched = touched_lines(change.before, after)
    if whole_cart or change.replayed:
        whole = view_after(change)
        ids = {line.id for line in touched}
        return ChangeView(
            change.cart_id,
            change.version,
            whole.item_count,
            whole.subtotal_cents,
            whole.line_count,
            tuple(line for line in whole.lines if line.id in ids),
            whole,
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
    )


@dataclass(frozen=True)
class Glance:
    """What every page's header needs: no catalog look-up."""

    cart_id: int | None
    version: int
    item_count: int


def glance(owner: Owner) -> Glance:
    snap = store.read(owner)
    return Glance(snap.cart_id, snap.version, snap.cart.item_count)


def kept_until(owner: Owner) -> datetime | None:
    """Guests only: when their cart is forgotten unless it changes before."""
    if owner.user_id is not None:
        return None
    changed = store.last_change(owner)
    days = current_app.config["GUEST_CART_DAYS"]
    return None if changed is None else changed + timedelta(days=days)


def names_for(skus: set[str], known: Iterable[LineView] = ()) -> dict[str, str]:
    """Product names; those of ``known`` lines (just described) cost no query."""
    names = {line.sku: line.name for line in known}
    missing = skus - names.keys()
    if missing:
        names.update((sku, facts.name) for sku, facts in catalog.facts_for(missing).items())
    return names


def changed_now(owner: Owner) -> datetime | None:
    """kept_until for a cart that has just changed: no need to ask the database."""
    if owner.user_id is not None:
        return None
    return clock.now() + timedelta(days=current_app.config["GUEST_CART_DAYS"])


def product(sku: str) -> Product | None:
    return catalog.by_sku(sku)


# --- history and restore ----------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    revision: int
    at: datetime
    summary: str
    source: str
    device: str


def history(owner: Owner, *, before: int | None = None, limit: int = 50) -> list[HistoryEntry]:
    cart_id = store.read(owner).cart_id
    if cart_id is None:
        return []
    revisions = cart_history.history(cart_id, before=before, limit=limit)
    names = names_for(set().union(*(notices.skus_in(r.op) for r in revisions)))
    return [
        HistoryEntry(
            r.version,
            r.at,
            notices.revision_summary(r.op, names),
            store.SOURCES[r.source],
            devices.label(r.device),
        )
        for r in revisions
    ]


@dataclass(frozen=True)
class RestoreResult:
    change: Change
    unrestored: list[dict]


def _unrestored(report: state.MergeReport, facts: Mapping[str, ProductFacts]) -> list[dict]:
    entries = []
    for short in report.shortfalls:
        product = facts.get(short.sku)
        reason = short.reason
        if short.kept == 0 and (product is None or not product.active):
            reason = "retired"
        elif short.kept == 0 and reason == "stock":
            reason = "sold_out"
        entries.append(
            {"sku": short.sku, "reason": reason, "requested": short.requested, "kept": short.kept}
        )
    return entries


def restore(req: Request, revision: object, *, source: int = store.RESTORE) -> RestoreResult:
    """Bring the cart back as it was at ``revision``, as a new revision; lines that cannot come
    back (retired, sold out, over a limit) are clamped or left out and reported."""
    if isinstance(revision, bool) or not isinstance(revision, int) or not 0 <= revision < 2**31:
        raise NotFound("There is no such revision of this cart.")
    cart_id = store.read(req.owner).cart_id
    if cart_id is None:
        raise NotFound("That revision is not in this cart's history (or is too old).")
    unrestored: list[dict] = []

    def decide(cart: Cart):
        nonlocal unrestored
        if not cart_history.restorable(cart_id, revision):
            raise NotFound("That revision is not in this cart's history (or is too old).")
        target = cart_history.state_at(cart_id, revision)
        facts = catalog.facts_for(line.sku for line in target.lines)
        restored, report = state.merge(state.EMPTY, target, _limits(facts))
        unrestored = _unrestored(report, facts)
        return state.Replace(restored.lines, revision), restored

    change = store.write(
        req.owner,
        decide,
        source=source,
        device=req.device,
        idempotency=req.idempotency,
        expected_version=req.expected_version,
        create=False,
    )
    return RestoreResult(change, unrestored)
