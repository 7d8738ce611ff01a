"""The Stripe provider against recorded API answers: Stripe cannot be reached from here.

`RecordedStripe` is a `stripe.HTTPClient`, the class every transport of the official library
derives from, handed to `StripeClient` through the provider's `http_client`. Everything above
the transport is the real library: request encoding, headers, idempotency keys, its network
retries, error classes. Each answer names the request it expects (method and path) and is one
of the JSON bodies under `tests/fixtures/stripe/`, shaped as Stripe's API returns them (they
start from the object fixtures Stripe publishes with its OpenAPI spec, filled in for one order).

Webhooks are signed here with Stripe's documented scheme: HMAC-SHA256 over `"<t>.<body>"`
with the endpoint's secret, sent as `Stripe-Signature: t=<t>,v1=<hex>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from requests.structures import CaseInsensitiveDict

from storefront.checkout.providers.base import (
    InvalidWebhook,
    PaymentProvider,
    PaymentRequest,
    PaymentStatus,
    ProviderUnavailable,
)
from storefront.checkout.providers.stripe_provider import StripeProvider

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
SECRET_KEY = "sk_test_51QhZ2aB7WZ01zgkWr3cordedK3yN0tF0rL0gs0000"
WEBHOOK_SECRET = "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
ATTEMPT = "9b1f0c7e-3a52-4c4e-9a57-0f1d2b6c8e41"
SESSION = "cs_test_a1Kq7ZbF3pXo2WcN8rT5vYhM4dG6sJ9uLe0RiQwAzVxBnCy3EfHgUjKl2P"
PAYMENT_INTENT = "pi_3QhZ8kB7WZ01zgkW1xT4aLqV"
API = "https://api.stripe.com"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Answer:
    method: str  # what the request must be
    path: str
    body: dict[str, Any] | None = None  # what Stripe answers...
    status: int = 200
    headers: dict[str, str] | None = None
    fails: bool = False  # ...or the connection fails, as the real transports report it


@dataclass
class Sent:
    method: str
    path: str
    headers: CaseInsensitiveDict
    form: dict[str, list[str]]  # the form-encoded body, parsed

    def field(self, name: str) -> str:
        (value,) = self.form[name]
        return value


class RecordedStripe(stripe.HTTPClient):
    """Answers each request with the next recorded answer, after checking it is the request
    that answer was recorded for."""

    name = "recorded"

    def __init__(self, *answers: Answer) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[Sent] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        assert self.answers, f"unexpected request {method.upper()} {url}"
        answer = self.answers.pop(0)
        parts = urlsplit(url)
        assert (method.upper(), f"{parts.scheme}://{parts.netloc}") == (answer.method, API)
        assert parts.path == answer.path
        form = parse_qs(post_data or parts.query or "", keep_blank_values=True)
        self.sent.append(Sent(method.upper(), parts.path, CaseInsensitiveDict(headers), form))
        if answer.fails:
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. (Network error: ConnectTimeout)",
                should_retry=True,
            )
        response_headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", "Request-Id": f"req_{len(self.sent):014d}"}
        )
        response_headers.update(answer.headers or {})
        return json.dumps(answer.body), answer.status, response_headers

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        raise AssertionError("the provider never streams")

    def close(self):
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0  # the library's back-off between retries, not worth waiting for here

    def done(self) -> None:
        assert not self.answers, f"answers never asked for: {self.answers}"


def provider(*answers: Answer) -> tuple[StripeProvider, RecordedStripe]:
    http = RecordedStripe(*answers)
    return StripeProvider(SECRET_KEY, WEBHOOK_SECRET, http_client=http), http


def payment_request(attempt_id: str = ATTEMPT) -> PaymentRequest:
    return PaymentRequest(
        attempt_id=attempt_id,
        order_number="1001",
        amount=4705,
        currency="USD",
        email="a@example.com",
        description="3 × Blue Mug",
        success_url="https://shop.example/orders/1001?paid=1",
        cancel_url="https://shop.example/checkout",
    )


CREATE = ("POST", "/v1/checkout/sessions")
RETRIEVE = ("GET", f"/v1/checkout/sessions/{SESSION}")
REFUNDS = ("POST", "/v1/refunds")


# -- start ---------------------------------------------------------------------------------


def test_it_is_a_payment_provider():
    stripe_provider, _ = provider()
    for method in ("start", "confirm", "refund", "parse_webhook"):
        assert callable(getattr(stripe_provider, method))
        assert method in PaymentProvider.__dict__
    assert (stripe_provider.name, stripe_provider.label, stripe_provider.needs_token) == (
        "stripe",
        "Card (Stripe)",
        False,
    )


def test_start_creates_a_checkout_session_and_sends_the_shopper_there():
    stripe_provider, http = provider(Answer(*CREATE, fixture("session_open.json")))

    outcome = stripe_provider.start(payment_request())

    assert outcome.status is PaymentStatus.PENDING
    assert outcome.reference == SESSION
    assert outcome.redirect_url == fixture("session_open.json")["url"]
    http.done()
    (sent,) = http.sent
    assert sent.headers["Idempotency-Key"] == ATTEMPT
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "mode": ["payment"],
        "line_items[0][quantity]": ["1"],
        "line_items[0][price_data][currency]": ["usd"],
        "line_items[0][price_data][unit_amount]": ["4705"],
        "line_items[0][price_data][product_data][name]": ["Order 1001"],
        "line_items[0][price_data][product_data][description]": ["3 × Blue Mug"],
        "success_url": ["https://shop.example/orders/1001?paid=1"],
        "cancel_url": ["https://shop.example/checkout"],
        "client_reference_id": [ATTEMPT],
        "customer_email": ["a@example.com"],
        "metadata[attempt_id]": [ATTEMPT],
        "metadata[order_number]": ["1001"],
        "payment_intent_data[metadata][attempt_id]": [ATTEMPT],
        "payment_intent_data[metadata][order_number]": ["1001"],
    }


def test_the_same_attempt_retried_sends_the_same_idempotency_key():
    # Stripe answers a repeated key with the first result, marked as a replay.
    replay = {"Idempotent-Replayed": "true"}
    stripe_provider, http = provider(
        Answer(*CREATE, fixture("session_open.json")),
        Answer(*CREATE, fixture("session_open.json"), headers=replay),
        Answer(*CREATE, fixture("session_open.json") | {"id": "cs_test_other"}),
    )

    first = stripe_provider.start(payment_request())
    again = stripe_provider.start(payment_request())
    stripe_provider.start(payment_request("another-attempt"))

    assert again == first
    keys = [sent.headers["Idempotency-Key"] for sent in http.sent]
    assert keys == [ATTEMPT, ATTEMPT, "another-attempt"]
    assert http.sent[0].form == http.sent[1].form  # a replay must be the very same request
    http.done()


def test_a_dropped_connection_is_retried_under_the_same_key():
    stripe_provider, http = provider(
        Answer(*CREATE, fails=True), Answer(*CREATE, fixture("session_open.json"))
    )

    assert stripe_provider.start(payment_request()).reference == SESSION

    assert [sent.headers["Idempotency-Key"] for sent in http.sent] == [ATTEMPT, ATTEMPT]
    http.done()


def test_a_card_error_is_a_decline_in_the_shoppers_words():
    stripe_provider, http = provider(
        Answer(*CREATE, fixture("error_card_declined.json"), status=402)
    )

    outcome = stripe_provider.start(payment_request())

    assert outcome.status is PaymentStatus.DECLINED
    assert outcome.message == "Your card was declined."
    assert outcome.reference is None and outcome.redirect_url is None
    http.done()


@pytest.mark.parametrize(
    "answers, error",
    [
        # Stripe's own trouble: the library retries it (same key), then gives up.
        ([Answer(*CREATE, fixture("error_api.json"), status=500)] * 3, "APIError"),
        ([Answer(*CREATE, fails=True)] * 3, "APIConnectionError"),
        ([Answer(*CREATE, fixture("error_rate_limit.json"), status=429)], "RateLimitError"),
        ([Answer(*CREATE, fixture("error_authentication.json"), status=401)], "Authentication"),
    ],
    ids=["500", "connection", "rate-limit", "authentication"],
)
def test_stripe_unreachable_or_failing_is_provider_unavailable(answers, error):
    stripe_provider, http = provider(*answers)

    with pytest.raises(ProviderUnavailable) as raised:
        stripe_provider.start(payment_request())

    assert error in str(raised.value)
    assert SECRET_KEY not in str(raised.value)
    assert {sent.headers["Idempotency-Key"] for sent in http.sent} == {ATTEMPT}
    http.done()


def test_the_secret_key_stays_out_of_messages_and_reprs():
    leaky = {"error": {"message": f"Invalid API Key provided: {SECRET_KEY}", "type": "x"}}
    stripe_provider, _ = provider(Answer(*CREATE, leaky, status=401))

    with pytest.raises(ProviderUnavailable) as raised:
        stripe_provider.start(payment_request())

    assert SECRET_KEY not in str(raised.value)
    assert "[secret key]" in str(raised.value)
    assert SECRET_KEY not in repr(stripe_provider)
    assert WEBHOOK_SECRET not in repr(stripe_provider)


def test_by_default_it_talks_to_stripe_through_requests_with_a_short_timeout():
    # Builds without any network; requests is a dependency of the stripe package itself.
    default = StripeProvider(SECRET_KEY, WEBHOOK_SECRET)
    assert isinstance(default._api._requestor._client, stripe.RequestsClient)
    assert default._api._requestor._client._timeout == (5.0, 20.0)


def test_missing_secrets_are_refused_at_construction():
    with pytest.raises(ValueError):
        StripeProvider("", WEBHOOK_SECRET)
    with pytest.raises(ValueError):
        StripeProvider(SECRET_KEY, "")


# -- confirm -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recorded, status, redirect",
    [
        ("session_paid.json", PaymentStatus.CAPTURED, None),
        ("session_expired.json", PaymentStatus.CANCELLED, None),
        ("session_open.json", PaymentStatus.PENDING, fixture("session_open.json")["url"]),
    ],
)
def test_confirm_reads_where_the_session_stands(recorded, status, redirect):
    stripe_provider, http = provider(Answer(*RETRIEVE, fixture(recorded)))

    outcome = stripe_provider.confirm(ATTEMPT, SESSION)

    assert outcome.status is status
    assert outcome.reference == SESSION  # what refund() takes
    assert outcome.redirect_url == redirect
    (sent,) = http.sent
    assert sent.form == {}
    http.done()


def test_confirm_without_a_session_asks_nothing():
    stripe_provider, http = provider()

    assert stripe_provider.confirm(ATTEMPT, None).status is PaymentStatus.CANCELLED
    http.done()


def test_confirm_refuses_another_attempts_session():
    stripe_provider, _ = provider(Answer(*RETRIEVE, fixture("session_paid.json")))

    with pytest.raises(ProviderUnavailable):
        stripe_provider.confirm("some-other-attempt", SESSION)


def test_confirm_when_stripe_fails_is_provider_unavailable():
    stripe_provider, _ = provider(*[Answer(*RETRIEVE, fixture("error_api.json"), status=500)] * 3)

    with pytest.raises(ProviderUnavailable):
        stripe_provider.confirm(ATTEMPT, SESSION)


# -- refund --------------------------------------------------------------------------------


def test_refund_goes_through_the_sessions_payment_intent():
    stripe_provider, http = provider(
        Answer(*RETRIEVE, fixture("session_paid.json")),
        Answer(*REFUNDS, fixture("refund_succeeded.json")),
    )

    outcome = stripe_provider.refund(SESSION, 4705, "USD", "refund-1001-1")

    assert outcome.status is PaymentStatus.REFUNDED
    assert outcome.reference == SESSION
    refund = http.sent[1]
    assert refund.form == {"payment_intent": [PAYMENT_INTENT], "amount": ["4705"]}
    assert refund.headers["Idempotency-Key"] == "refund-1001-1"
    http.done()


def test_refund_takes_a_payment_intent_directly():
    stripe_provider, http = provider(Answer(*REFUNDS, fixture("refund_succeeded.json")))

    assert stripe_provider.refund(PAYMENT_INTENT, 1000, "USD", "k").status is PaymentStatus.REFUNDED
    assert http.sent[0].form == {"payment_intent": [PAYMENT_INTENT], "amount": ["1000"]}


@pytest.mark.parametrize(
    "answers",
    [
        [
            Answer(*RETRIEVE, fixture("session_paid.json")),
            Answer(*REFUNDS, fixture("error_charge_already_refunded.json"), status=400),
        ],
        [
            Answer(*RETRIEVE, fixture("session_paid.json")),
            Answer(*REFUNDS, fixture("refund_succeeded.json") | {"status": "failed"}),
        ],
        [Answer(*RETRIEVE, fixture("session_expired.json"))],  # never paid: nothing to refund
        [Answer(*RETRIEVE, fixture("error_api.json"), status=500)] * 3,
    ],
    ids=["already-refunded", "refund-failed", "unpaid-session", "500"],
)
def test_refund_errors_are_provider_unavailable(answers):
    stripe_provider, http = provider(*answers)

    with pytest.raises(ProviderUnavailable):
        stripe_provider.refund(SESSION, 4705, "USD", "refund-1001-1")
    http.done()


def test_refund_in_another_currency_is_refused_before_anything_moves():
    stripe_provider, http = provider(Answer(*RETRIEVE, fixture("session_paid.json")))

    with pytest.raises(ProviderUnavailable):
        stripe_provider.refund(SESSION, 4705, "EUR", "refund-1001-1")
    assert [sent.method for sent in http.sent] == ["GET"]


# -- webhooks ------------------------------------------------------------------------------


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    signed = f"{t}.{payload.decode()}".encode()
    return f"t={t},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def event(name: str, **changes: Any) -> bytes:
    body = fixture(name)
    body["type"] = changes.pop("type", body["type"])
    body["data"]["object"].update(changes)
    return json.dumps(body, indent=2).encode()


def parse(payload: bytes, header: str | None = None) -> Any:
    stripe_provider, http = provider()
    headers = {"Stripe-Signature": sign(payload) if header is None else header}
    result = stripe_provider.parse_webhook(payload, headers)
    http.done()  # verifying a webhook never calls Stripe
    return result


@pytest.mark.parametrize(
    "payload, status",
    [
        (event("event_session_completed.json"), PaymentStatus.CAPTURED),
        (
            event(
                "event_session_completed.json",
                type="checkout.session.async_payment_succeeded",
            ),
            PaymentStatus.CAPTURED,
        ),
        (
            event(
                "event_session_completed.json",
                type="checkout.session.async_payment_failed",
                payment_status="unpaid",
                payment_intent=None,
            ),
            PaymentStatus.CANCELLED,
        ),
        (event("event_session_expired.json"), PaymentStatus.CANCELLED),
        # Completed with a delayed method still on its way: nothing to do yet.
        (event("event_session_completed.json", payment_status="unpaid"), None),
    ],
    ids=["completed", "async-succeeded", "async-failed", "expired", "completed-unpaid"],
)
def test_checkout_session_events_are_mapped(payload, status):
    parsed = parse(payload)

    assert parsed.status == status
    assert parsed.event_id == json.loads(payload)["id"]
    assert parsed.attempt_id == ATTEMPT
    assert parsed.reference == SESSION


def test_the_attempt_comes_from_metadata_when_the_reference_is_missing():
    parsed = parse(event("event_session_completed.json", client_reference_id=None))

    assert (parsed.status, parsed.attempt_id) == (PaymentStatus.CAPTURED, ATTEMPT)


def test_other_events_are_verified_but_not_acted_on():
    parsed = parse(event("event_refund_created.json"))

    assert parsed.event_id == "evt_3QhZ8kB7WZ01zgkW1Gh5Jk6L"
    assert (parsed.status, parsed.attempt_id, parsed.reference) == (None, None, None)


def test_the_signature_header_is_found_whatever_its_case():
    payload = event("event_session_completed.json")
    stripe_provider, _ = provider()

    parsed = stripe_provider.parse_webhook(payload, {"stripe-signature": sign(payload)})

    assert parsed.status is PaymentStatus.CAPTURED


def test_a_header_with_several_signatures_needs_one_that_matches():
    # Stripe sends one v1 per active secret while an endpoint's secret is being rolled.
    payload = event("event_session_completed.json")
    old = sign(payload, secret="whsec_rolled_away").split(",")[1]

    assert parse(payload, f"{sign(payload)},{old}").status is PaymentStatus.CAPTURED


PAYLOAD = event("event_session_completed.json")


@pytest.mark.parametrize(
    "payload, header",
    [
        (PAYLOAD, sign(PAYLOAD, secret="whsec_not_this_endpoints")),
        (PAYLOAD.replace(b'"paid"', b'"unpaid"'), sign(PAYLOAD)),  # tampered after signing
        (PAYLOAD, sign(PAYLOAD, t=int(time.time()) - 301)),  # past the 300 s tolerance
        (PAYLOAD, ""),
        (PAYLOAD, "garbage"),
        (PAYLOAD, "t=not-a-number,v1=00"),
        (PAYLOAD, f"v1={sign(PAYLOAD).split('v1=')[1]}"),  # no timestamp
        (PAYLOAD, sign(PAYLOAD).split(",")[0]),  # no signature
        (PAYLOAD, sign(PAYLOAD).replace("v1=", "v0=")),  # another scheme
        (b"not json", sign(b"not json")),
        (b"[1, 2]", sign(b"[1, 2]")),
        (b'{"object": "event"}', sign(b'{"object": "event"}')),  # no id, no type
    ],
    ids=[
        "wrong-secret",
        "tampered",
        "stale",
        "empty-header",
        "garbage",
        "bad-timestamp",
        "no-timestamp",
        "no-signature",
        "other-scheme",
        "not-json",
        "not-an-object",
        "not-an-event",
    ],
)
def test_webhooks_that_do_not_check_out_are_refused(payload, header):
    with pytest.raises(InvalidWebhook):
        parse(payload, header)


def test_a_webhook_without_a_signature_header_is_refused():
    stripe_provider, _ = provider()

    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(PAYLOAD, {"Content-Type": "application/json"})


def test_a_body_that_is_not_utf8_is_refused():
    stripe_provider, _ = provider()
    body = b"\xff\xfe{}"

    with pytest.raises(InvalidWebhook):
        stripe_provider.parse_webhook(body, {"Stripe-Signature": f"t={int(time.time())},v1=00"})


def test_a_fresh_signature_within_tolerance_is_accepted():
    assert parse(PAYLOAD, sign(PAYLOAD, t=int(time.time()) - 200)).status is PaymentStatus.CAPTURED
