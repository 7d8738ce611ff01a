"""The providers that need no outside service: ``manual`` (bank transfer, pay on pickup) and
``test`` (deterministic card tokens for demos and tests; on only when configured)."""

from __future__ import annotations

from collections.abc import Mapping

from storefront.checkout.providers.base import (
    InvalidWebhook,
    PaymentOutcome,
    PaymentRequest,
    PaymentStatus,
    ProviderUnavailable,
    WebhookEvent,
)


class ManualProvider:
    name = "manual"
    label = "Bank transfer or pay on pickup"
    needs_token = False

    def start(self, request: PaymentRequest) -> PaymentOutcome:
        return PaymentOutcome(PaymentStatus.PENDING, reference=f"manual-{request.order_number}")

    def confirm(self, attempt_id: str, reference: str | None) -> PaymentOutcome:
        # Only staff know whether the money arrived; until they say so it is pending.
        return PaymentOutcome(PaymentStatus.PENDING, reference=reference)

    def refund(self, reference, amount, currency, idempotency_key) -> PaymentOutcome:
        return PaymentOutcome(PaymentStatus.REFUNDED, reference=reference)

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        raise InvalidWebhook("the manual provider takes no webhooks")


class TestProvider:
    """``tok_ok…`` is captured, ``tok_declined…`` declined, ``tok_error…`` fails as an
    unreachable provider would. Anything else is declined as an invalid card."""

    __test__ = False  # not a pytest class
    name = "test"
    label = "Test card"
    needs_token = True

    def __init__(self):
        # What was charged, by attempt: a retried call with the same idempotency key answers
        # the first outcome again, as a real provider does.
        self._charged: dict[str, PaymentOutcome] = {}

    def start(self, request: PaymentRequest) -> PaymentOutcome:
        if request.attempt_id in self._charged:
            return self._charged[request.attempt_id]
        token = request.token or ""
        if token.startswith("tok_error"):
            raise ProviderUnavailable("test provider: simulated outage (tok_error)")
        if token.startswith("tok_ok"):
            outcome = PaymentOutcome(PaymentStatus.CAPTURED, reference=f"test_{request.attempt_id}")
        elif token.startswith("tok_declined"):
            outcome = PaymentOutcome(PaymentStatus.DECLINED, message="The card was declined.")
        else:
            outcome = PaymentOutcome(
                PaymentStatus.DECLINED, message="The card number is not valid."
            )
        self._charged[request.attempt_id] = outcome
        return outcome

    def confirm(self, attempt_id: str, reference: str | None) -> PaymentOutcome:
        outcome = self._charged.get(attempt_id)
        # Never reached (another process, or it crashed first): no money moved.
        return outcome or PaymentOutcome(PaymentStatus.CANCELLED)

    def refund(self, reference, amount, currency, idempotency_key) -> PaymentOutcome:
        return PaymentOutcome(PaymentStatus.REFUNDED, reference=reference)

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        raise InvalidWebhook("the test provider takes no webhooks")
