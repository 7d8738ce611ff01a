"""Stripe Checkout as a payment provider, on Stripe's official client (``stripe.StripeClient``).

The shopper pays on a Stripe-hosted Checkout Session: ``start`` creates one and answers PENDING
with its URL; the webhook (or ``confirm``, for a shopper back from the redirect or an attempt
left open by a crash) says when it is paid or will never be.

The reference kept for a payment is always the Checkout Session id (``cs_…``). A session in
payment mode gets its PaymentIntent only once the shopper pays, so ``refund`` resolves the
PaymentIntent from the session when it needs it (a ``pi_…`` reference is accepted as well).

Every call carries an idempotency key: ``start`` sends the payment attempt's id, so a retried
attempt gets the same session back (Stripe keeps keys for 24 hours), and the client's own
network retries reuse it too. The secret key lives only inside the client and is never put in a
message or a repr.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import stripe

from storefront.checkout.providers.base import (
    InvalidWebhook,
    PaymentOutcome,
    PaymentRequest,
    PaymentStatus,
    ProviderUnavailable,
    WebhookEvent,
)

# A web request waits for these calls, so far less than the library's 80 s default read timeout.
# Retries (connection failures, timeouts, 409 and 5xx answers) reuse the request's idempotency
# key, so they never charge twice; 2 is the library's own default for its global client.
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 20.0
NETWORK_RETRIES = 2

SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's documented default: a signature older than five minutes is a replay.
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE

_CAPTURED_EVENTS = {"checkout.session.async_payment_succeeded"}
_CANCELLED_EVENTS = {"checkout.session.expired", "checkout.session.async_payment_failed"}


SESSION_MINIMUM = 30 * 60  # Stripe refuses a Checkout Session that expires sooner


class StripeProvider:
    name = "stripe"
    label = "Card (Stripe)"
    needs_token = False

    def __init__(
        self, secret_key: str, webhook_secret: str, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        if not secret_key:
            raise ValueError("the Stripe secret key is empty")
        if not webhook_secret:
            raise ValueError("the Stripe webhook secret is empty")
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        if http_client is None:
            http_client = stripe.RequestsClient(
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
            )
        client = stripe.StripeClient(
            secret_key, http_client=http_client, max_network_retries=NETWORK_RETRIES
        )
        # stripe 14 deprecated the services straight on StripeClient for `client.v1` (which
        # releases before 12 lack).
        self._api = getattr(client, "v1", client)

    def __repr__(self) -> str:
        return "StripeProvider()"

    # -- payments --------------------------------------------------------------------------

    def start(self, request: PaymentRequest) -> PaymentOutcome:
        product: dict[str, Any] = {"name": f"Order {request.order_number}"}
        if request.description:
            product["description"] = request.description
        metadata = {"attempt_id": request.attempt_id, "order_number": request.order_number}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": product,
                    },
                }
            ],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.attempt_id,
            "metadata": metadata,
            # The same on the PaymentIntent, so the Dashboard's payment shows the order.
            "payment_intent_data": {"metadata": metadata},
        }
        if request.email:
            params["customer_email"] = request.email
        if request.hold_seconds:
            # Stripe's page stops taking payment soon after the stock hold ends (30 minutes is
            # the shortest Stripe allows); a payment in that gap is refunded by the shop.
            params["expires_at"] = int(time.time()) + max(SESSION_MINIMUM, request.hold_seconds)
        try:
            session = _plain(
                self._api.checkout.sessions.create(params, {"idempotency_key": request.attempt_id})
            )
        except stripe.CardError as e:
            return PaymentOutcome(
                PaymentStatus.DECLINED, message=e.user_message or "The card was declined."
            )
        except stripe.StripeError as e:
            raise ProviderUnavailable(self._describe("creating a Checkout Session", e)) from e
        session_id, url = session.get("id"), session.get("url")
        if not session_id or not url:
            raise ProviderUnavailable("Stripe answered a Checkout Session without an id or url")
        return PaymentOutcome(PaymentStatus.PENDING, reference=session_id, redirect_url=url)

    def confirm(self, attempt_id: str, reference: str | None) -> PaymentOutcome:
        if not reference:
            # start() never returned a session, so its URL was never shown to anyone and
            # nobody can pay it; Stripe expires it by itself.
            return PaymentOutcome(
                PaymentStatus.CANCELLED, message="No Stripe Checkout Session was started."
            )
        session = self._session(reference, "confirming a payment")
        owner = session.get("client_reference_id") or _metadata(session).get("attempt_id")
        if owner != attempt_id:
            raise ProviderUnavailable(
                f"Checkout Session {reference} belongs to attempt {owner!r}, not {attempt_id!r}"
            )
        if session.get("payment_status") == "paid":
            return PaymentOutcome(PaymentStatus.CAPTURED, reference=reference)
        if session.get("status") == "expired":
            return PaymentOutcome(PaymentStatus.CANCELLED, reference=reference)
        return PaymentOutcome(
            PaymentStatus.PENDING, reference=reference, redirect_url=session.get("url")
        )

    def refund(
        self, reference: str, amount: int, currency: str, idempotency_key: str
    ) -> PaymentOutcome:
        payment_intent = reference
        if not reference.startswith("pi_"):
            session = self._session(reference, "refunding")
            if (session.get("currency") or "").lower() != currency.lower():
                raise ProviderUnavailable(
                    f"Checkout Session {reference} was paid in {session.get('currency')!r}, "
                    f"not {currency!r}: nothing refunded"
                )
            payment_intent = _id(session.get("payment_intent"))
            if not payment_intent:
                raise ProviderUnavailable(f"Checkout Session {reference} has no payment to refund")
        try:
            refund = _plain(
                self._api.refunds.create(
                    {"payment_intent": payment_intent, "amount": amount},
                    {"idempotency_key": idempotency_key},
                )
            )
        except stripe.StripeError as e:
            raise ProviderUnavailable(self._describe("refunding", e)) from e
        if refund.get("status") in ("failed", "canceled"):
            raise ProviderUnavailable(
                f"Stripe refund {refund.get('id')} of {payment_intent} is {refund.get('status')}"
                f" ({refund.get('failure_reason')})"
            )
        return PaymentOutcome(PaymentStatus.REFUNDED, reference=reference)

    # -- webhooks --------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        signature = _header(headers, SIGNATURE_HEADER)
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except stripe.SignatureVerificationError as e:
            raise InvalidWebhook(f"Stripe webhook signature: {e.user_message}") from e
        except ValueError as e:  # a body that is not UTF-8 or not JSON
            raise InvalidWebhook("Stripe webhook body is not JSON") from e
        if not isinstance(event, dict):
            raise InvalidWebhook("Stripe webhook body is not an event")
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise InvalidWebhook("Stripe webhook event has no id or type")
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not event_type.startswith("checkout.session.") or not isinstance(obj, dict):
            return WebhookEvent(event_id=event_id, status=None)

        status: PaymentStatus | None = None
        if event_type == "checkout.session.completed":
            # "unpaid" here is a delayed method still on its way; async_payment_* follows.
            if obj.get("payment_status") == "paid":
                status = PaymentStatus.CAPTURED
        elif event_type in _CAPTURED_EVENTS:
            status = PaymentStatus.CAPTURED
        elif event_type in _CANCELLED_EVENTS:
            status = PaymentStatus.CANCELLED
        attempt_id = obj.get("client_reference_id") or _metadata(obj).get("attempt_id")
        return WebhookEvent(
            event_id=event_id,
            status=status,
            attempt_id=attempt_id if isinstance(attempt_id, str) else None,
            reference=obj.get("id") if isinstance(obj.get("id"), str) else None,
        )

    # -- helpers ---------------------------------------------------------------------------

    def _session(self, session_id: str, doing: str) -> dict[str, Any]:
        try:
            return _plain(self._api.checkout.sessions.retrieve(session_id))
        except stripe.StripeError as e:
            raise ProviderUnavailable(self._describe(f"{doing} ({session_id})", e)) from e

    def _describe(self, doing: str, error: stripe.StripeError) -> str:
        """A line for the operator's log. Stripe masks keys in its own messages; this makes sure
        the secret key never reaches a log whatever a message holds."""
        text = f"Stripe {type(error).__name__} while {doing}: {error}"
        if error.http_status:
            text += f" (HTTP {error.http_status})"
        return text.replace(self._secret_key, "[secret key]")


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject's fields. (It stopped being a dict in stripe 15: `.get` raises there.)"""
    return obj.to_dict()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict rather than case-insensitive request headers
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _id(value: Any) -> str | None:
    """An expandable field: an id, or the expanded object holding one."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return value.get("id")
    return None
