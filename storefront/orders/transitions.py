"""Which staff action fits which order status, and how much may still be refunded. Pure: no
database, no Flask, so every rule is tested on its own (tests/test_admin_orders.py).

    pending ──mark-paid──▶ paid ──fulfil──▶ fulfilled
       │                    │  ╲                │
       └──cancel──▶ cancelled ◀─cancel  refund (paid or fulfilled; full → refunded)
"""

from __future__ import annotations

from storefront.errors import BadRequest, InvalidRefundAmount, InvalidTransition
from storefront.money import parse_amount, to_decimal_text

ACTIONS = ("mark-paid", "fulfil", "cancel", "refund")

# action → (statuses it starts from, the status it leads to; None: refund decides)
RULES: dict[str, tuple[frozenset[str], str | None]] = {
    "mark-paid": (frozenset({"pending"}), "paid"),
    "fulfil": (frozenset({"paid"}), "fulfilled"),
    "cancel": (frozenset({"pending", "paid"}), "cancelled"),
    "refund": (frozenset({"paid", "fulfilled"}), None),
}

VERBS = {
    "mark-paid": "marked paid",
    "fulfil": "fulfilled",
    "cancel": "cancelled",
    "refund": "refunded",
}

# Why an action does not fit, in words staff can act on: (action, status) → reason.
REASONS = {
    ("mark-paid", "paid"): "it is already paid",
    ("mark-paid", "fulfilled"): "it is already paid and fulfilled",
    ("fulfil", "pending"): "it is not paid yet: mark it paid first",
    ("fulfil", "fulfilled"): "it is already fulfilled",
    ("cancel", "fulfilled"): "it has been fulfilled: refund it instead",
    ("refund", "pending"): "it was never paid: cancel it instead",
    ("refund", "refunded"): "it is already refunded in full",
}
CLOSED = {"cancelled": "it is cancelled", "refunded": "it is refunded"}

MAX_TRACKING = 500


def allowed(action: str, status: str) -> bool:
    rule = RULES.get(action)
    return rule is not None and status in rule[0]


def available(status: str, refunded: int = 0, total: int = 0) -> list[str]:
    """The actions staff may take on an order in this state, in the page's order."""
    return [
        action
        for action in ACTIONS
        if allowed(action, status) and (action != "refund" or refunded < total)
    ]


def check(action: str, status: str, number: object = "") -> None:
    """Raise InvalidTransition, with the reason in words, when ``action`` does not fit."""
    if action not in RULES:
        raise InvalidTransition(
            f"There is no order action {action[:40]!r}; the actions are {', '.join(ACTIONS)}."
        )
    if allowed(action, status):
        return
    reason = REASONS.get((action, status)) or CLOSED.get(status) or f"it is {status}"
    subject = f"Order {number}" if number != "" else "This order"
    raise InvalidTransition(
        f"{subject} cannot be {VERBS[action]}: {reason}.", status=status, action=action
    )


def refund_amount(requested: object, total: int, refunded: int, currency: str) -> int:
    """The amount to refund in minor units: all that is left when ``requested`` is None,
    otherwise the decimal text given, more than zero and at most what is left."""
    left = total - refunded
    if left <= 0:
        raise InvalidTransition("This order is already refunded in full.")
    if requested is None:
        return left
    try:
        amount = parse_amount(requested, currency)
    except ValueError as e:
        raise InvalidRefundAmount(f"The refund amount is not valid: {e}.") from None
    if amount <= 0:
        raise InvalidRefundAmount("A refund must be more than zero.")
    if amount > left:
        raise InvalidRefundAmount(
            f"At most {to_decimal_text(left, currency)} {currency} is left to refund "
            f"({to_decimal_text(amount, currency)} was asked).",
            left=to_decimal_text(left, currency),
        )
    return amount


def status_after_refund(status: str, total: int, refunded_after: int) -> str:
    """A partial refund keeps the status; the one that brings the refunded sum to the total
    makes the order refunded."""
    return "refunded" if refunded_after >= total else status


def tracking_note(value: object) -> str | None:
    """A fulfilment's optional tracking note: text, at most MAX_TRACKING characters, no
    control characters; blank is none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest("The tracking note must be text.")
    value = " ".join(value.split())
    if len(value) > MAX_TRACKING:
        raise BadRequest(f"The tracking note is too long (at most {MAX_TRACKING}).")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadRequest("The tracking note has characters that cannot be shown.")
    return value or None
