"""What every payment provider offers the checkout: one small interface, no Flask, no database.

The checkout calls a provider outside any database transaction, with the payment attempt's id
as the idempotency key, so a retried call never charges twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PaymentStatus(StrEnum):
    CAPTURED = "captured"  # the money is ours
    PENDING = "pending"  # not yet: a manual transfer, or a redirect the shopper has not finished
    DECLINED = "declined"  # the payer's bank or card said no; no money moved
    CANCELLED = "cancelled"  # a pending payment that will never complete (expired, abandoned)
    REFUNDED = "refunded"


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with an error: nothing is known to have
    moved. The message is for the operator's log, not the shopper."""


class InvalidWebhook(Exception):
    """A webhook whose signature, timestamp or body does not check out."""


@dataclass(frozen=True)
class PaymentRequest:
    attempt_id: str  # also the idempotency key sent to the provider
    order_number: str
    amount: int  # in the currency's minor unit
    currency: str  # ISO 4217, upper case
    email: str
    description: str
    token: str | None = None  # the `test` provider's card token
    success_url: str = ""  # where a redirecting provider sends the shopper back
    cancel_url: str = ""
    hold_seconds: int = 0  # how long the order's stock is held for a payment not yet made


@dataclass(frozen=True)
class PaymentOutcome:
    status: PaymentStatus
    reference: str | None = None  # the provider's id for this payment (a Stripe session id)
    redirect_url: str | None = None  # send the shopper here to pay (PENDING only)
    message: str = ""  # for a decline: why, in words a shopper can read


@dataclass(frozen=True)
class WebhookEvent:
    """A verified provider event, reduced to what the checkout acts on."""

    event_id: str
    status: PaymentStatus | None  # None: an event the shop does not act on
    attempt_id: str | None = None
    reference: str | None = None


class PaymentProvider(Protocol):
    name: str  # as in STOREFRONT_PAYMENT_PROVIDERS
    label: str  # shown to the shopper at checkout
    needs_token: bool  # the checkout form must send `payment_token`

    def start(self, request: PaymentRequest) -> PaymentOutcome:
        """Charge, or begin a payment the shopper finishes elsewhere. Raises
        ProviderUnavailable when the outcome is unknown."""

    def confirm(self, attempt_id: str, reference: str | None) -> PaymentOutcome:
        """Ask the provider where an earlier payment stands (recovering an attempt left open
        by a crash, or a shopper back from a redirect)."""

    def refund(
        self, reference: str, amount: int, currency: str, idempotency_key: str
    ) -> PaymentOutcome:
        """Give back ``amount`` of a captured payment."""

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify and read a webhook; raises InvalidWebhook."""
