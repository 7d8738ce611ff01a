"""Cart use cases: validate against the catalog, run the pure rules inside the store's
transaction, and return the committed ``Change``. One public call is one transaction, and every
one goes through ``_write``. Versions and idempotency keys are the store's business.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from storefront.analytics import events
from storefront.analytics.kinds import EventKind, device_kind
from storefront.cart import history, moments, state, store, views
from storefront.cart.state import (
    AddLine,
    Cart,
    Clear,
    Limits,
    MergeIn,
    Reason,
    RemoveLine,
    Replace,
    SetQuantity,
    Shortfall,
)
from storefront.cart.types import Change, IdempotencyKey, Owner, Source
from storefront.catalog import services as catalog
from storefront.catalog.options import InvalidOptionError, check_shape, normalise
from storefront.catalog.services import ProductFacts, ProductToAdd
from storefront.errors import InvalidOption, NotFound, UnknownSku
from storefront.saved import store as saved_store

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


def _limits(products: Mapping[str, ProductToAdd | ProductFacts]) -> Limits:
    config = current_app.config
    return Limits(
        max_lines=config["MAX_LINES"],
        max_line_quantity=config["MAX_LINE_QUANTITY"],
        stock={sku: p.stock if p.active else 0 for sku, p in products.items()},
    )


def _check_line_id(line_id: object) -> str:
    if not isinstance(line_id, str) or not 0 < len(line_id) <= MAX_LINE_ID_LENGTH:
        raise NotFound("That line is not in your cart.")
    return line_id


def _products_read(last: Cart | None, *skus: str) -> list[str]:
    """A ``store.ReadAlong`` guess: ``skus`` (what the decision reads) and, for a small cart,
    every line's SKU (describing its change reads their facts: ``views.read_facts_inside``)."""
    if last is not None and len(last) <= views.SMALL_CART:
        return [*skus, *(line.sku for line in last.lines)]
    return list(skus)


def _write(
    req: Request,
    decide: store.Decide,
    *,
    source: Source = Source.CHANGE,
    create: bool = True,
    also: store.AlsoWrite | None = None,
    read_after: store.ReadAfter | None = None,
    read_along: store.ReadAlong | None = None,
) -> Change:
    return store.write(
        req.owner,
        decide,
        source=source,
        device=req.device,
        idempotency=req.idempotency,
        expected_version=req.expected_version,
        create=create,
        also=also,
        read_after=read_after,
        read_along=read_along,
    )


def add_line(req: Request, sku: object, quantity: object, options: object = None) -> Change:
    quantity = state.check_quantity(quantity, 1)

    def unknown() -> UnknownSku:
        shown = sku if isinstance(sku, str) and len(sku) <= 64 else "that SKU"
        return UnknownSku(f"There is no product {shown!r}.")

    # A string that cannot be a SKU is refused before anything else, as malformed input.
    if not isinstance(sku, str) or not catalog.SKU.match(sku):
        raise unknown()
    if options is not None:
        try:
            check_shape(options)
        except InvalidOptionError as exc:
            raise InvalidOption(str(exc)) from None
    known: dict[str, ProductFacts] = {}

    def decide(cart: Cart):
        # The product is read with the change's cart (inside its transaction when locked; on
        # PostgreSQL's unlocked way, again if the change is decided again): read before it, its own
        # transaction (a pooled connection taken, begun, ended and given back) cost as much as
        # the look-up (issue 10). So an If-Match that no longer holds is answered first.
        if len(cart) < views.SMALL_CART:
            # With the facts of the cart's other products, which describing the change needs.
            product, facts = catalog.to_add_among(sku, {line.sku for line in cart.lines})
            known.update(facts)
        else:
            product = catalog.to_add(sku)
        if product is None:
            raise unknown()
        try:
            chosen = normalise(product.option_specs, {} if options is None else options)
        except InvalidOptionError as exc:
            raise InvalidOption(str(exc)) from None
        op = AddLine(
            new_line_id(), product.sku, quantity, state.options_key(chosen), product.price_cents
        )
        known[product.sku] = ProductFacts(*product[:5])
        return op, state.apply(cart, op, _limits({product.sku: product}))

    return _write(
        req,
        decide,
        read_after=lambda change: views.read_facts_inside(change, known),
        read_along=lambda last: _products_read(last, sku),
    )


def set_quantity(req: Request, line_id: object, quantity: object) -> Change:
    line_id, quantity = _check_line_id(line_id), state.check_quantity(quantity, 0)

    def decide(cart: Cart):
        line = cart.line(line_id)
        if line is None:
            raise NotFound("That line is not in your cart.")
        op = SetQuantity(line_id, quantity, line.sku)
        return op, state.apply(cart, op, _limits(catalog.facts_for([line.sku])))

    def line_sku(last: Cart | None) -> list[str]:
        line = None if last is None else last.line(line_id)
        return [] if line is None else [line.sku]

    return _write(
        req,
        decide,
        create=False,
        read_after=views.read_facts_inside,
        read_along=lambda last: _products_read(last, *line_sku(last)),
    )


def remove_line(req: Request, line_id: object) -> Change:
    line_id = _check_line_id(line_id)

    def decide(cart: Cart):
        line = cart.line(line_id)
        op = RemoveLine(line_id, line.sku if line else "")
        return op, state.apply(cart, op)

    return _write(
        req,
        decide,
        create=False,
        read_after=views.read_facts_inside,
        read_along=_products_read,
    )


def clear(req: Request) -> Change:
    # Clearing an empty cart is still a change the shopper asked for: it gets its revision.
    return _write(req, lambda cart: (Clear(), state.EMPTY))


@dataclass(frozen=True)
class MergeResult:
    change: Change
    report: state.MergeReport


def merge_guest_cart(guest: Owner, user_id: int, device: int) -> MergeResult:
    """Sign-in: move the guest's cart into the account's, as one revision (or none if empty)."""
    return merge_carts(Owner.user(user_id), guest, device)


def merge_carts(
    into: Owner, guest: Owner, device: int, *, before: Callable[[], None] | None = None
) -> MergeResult:
    """Move the guest's cart, and the lines it saved for later, into ``into``'s cart, as one
    revision (or none if the guest's cart is empty). ``before`` runs first under ``into``'s
    lock, in the same transaction (a handoff claims its code there)."""
    report = state.MergeReport()
    guest_cart_id = store.read(guest).cart_id
    took = False

    def decide(account: Cart):
        nonlocal report, took
        if before is not None:
            before()
        guest_cart = store.take_guest_cart(guest)
        if not guest_cart.lines:
            return None, account
        took = True
        limits = _limits(catalog.facts_for(line.sku for line in guest_cart.lines))
        merged, report = state.merge(account, guest_cart, limits)
        return (MergeIn(report.merged) if report.merged else None), merged

    def also(change: Change) -> None:
        if guest_cart_id is not None and guest_cart_id != change.cart_id:
            saved_store.move_all(guest_cart_id, change.cart_id)
        # Even when nothing could come over (all sold out): the guest's cart is closed, and
        # the guest is this shopper from now on, for the funnel.
        if took:
            events.record(
                EventKind.MERGED,
                into.channel,
                peer_channel=guest.channel,
                device=device_kind(device),
                at=change.at,
                quantity=change.after.item_count - change.before.item_count,
                cart_units=change.after.item_count,
            )

    change = _write(Request(into, device), decide, source=Source.MERGE, also=also)
    return MergeResult(change, report)


@dataclass(frozen=True)
class RestoreResult:
    change: Change
    unrestored: tuple[Shortfall, ...]


def _why_not_restored(
    shortfalls: Iterable[Shortfall], facts: Mapping[str, ProductFacts]
) -> tuple[Shortfall, ...]:
    """A line that came back with nothing is said to be retired or sold out, not just short."""
    told = []
    for short in shortfalls:
        product = facts.get(short.sku)
        reason = short.reason
        if short.kept == 0 and (product is None or not product.active):
            reason = Reason.RETIRED
        elif short.kept == 0 and reason is Reason.STOCK:
            reason = Reason.SOLD_OUT
        told.append(Shortfall(short.sku, short.options, short.requested, short.kept, reason))
    return tuple(told)


def restore(
    req: Request,
    revision: object,
    *,
    source: Source = Source.RESTORE,
    also: Callable[[RestoreResult], None] | None = None,
) -> RestoreResult:
    """Bring the cart back as it was at ``revision``, as a new revision; lines that cannot come
    back (retired, sold out, over a limit) are clamped or left out and reported. ``also`` is
    written in the same transaction (support's audit row)."""
    if isinstance(revision, bool) or not isinstance(revision, int) or not 0 <= revision < 2**31:
        raise NotFound("There is no such revision of this cart.")

    # A shared cart's member may not bring back what the cart held before they joined.
    visible_from = store.read(req.owner).visible_from

    def pick(cart_id: int) -> int:
        if revision < visible_from or not history.restorable(cart_id, revision):
            raise NotFound("That revision is not in this cart's history (or is too old).")
        return revision

    return _restore(req, pick, source=source, also=also)


def restore_at(req: Request, at: datetime) -> RestoreResult:
    """Bring the cart back as it was at the moment ``at`` (checked against the window here):
    the revision that held then, even one older than the window whose state lasted into it."""
    moments.check_in_window(at)
    visible_from = store.read(req.owner).visible_from
    return _restore(req, lambda cart_id: moments.visible_version_at(cart_id, at, visible_from))


def _restore(
    req: Request,
    pick: Callable[[int], int],
    *,
    source: Source = Source.RESTORE,
    also: Callable[[RestoreResult], None] | None = None,
) -> RestoreResult:
    cart_id = store.read(req.owner).cart_id
    if cart_id is None:
        raise NotFound("That revision is not in this cart's history (or is too old).")
    unrestored: tuple[Shortfall, ...] = ()

    def decide(cart: Cart):
        nonlocal unrestored
        revision = pick(cart_id)  # under the cart's lock: no change slips in between
        target = store.state_at(cart_id, revision)
        facts = catalog.facts_for(line.sku for line in target.lines)
        restored, report = state.merge(state.EMPTY, target, _limits(facts))
        unrestored = _why_not_restored(report.shortfalls, facts)
        return Replace(restored.lines, revision), restored

    def write_also(change: Change) -> None:
        if change.cart_id != cart_id:
            # The shopper's cart changed between the read and the lock (sharing began or
            # ended): another cart's past must not be written into this one.
            raise NotFound("That revision is not in this cart's history (or is too old).")
        if also is not None:
            also(RestoreResult(change, unrestored))

    change = _write(req, decide, source=source, create=False, also=write_also)
    return RestoreResult(change, unrestored)


# The same write path, limits and line-id check for use cases built on the cart's own
# (saved for later): one home for these rules.
write = _write
limits_for = _limits
check_line_id = _check_line_id
