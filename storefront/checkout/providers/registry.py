"""The providers this shop is configured with, in the order the checkout offers them."""

from __future__ import annotations

from flask import Flask, current_app

from storefront.checkout.providers.base import PaymentProvider
from storefront.checkout.providers.builtin import ManualProvider, TestProvider


def _build(name: str, config) -> PaymentProvider:
    if name == "manual":
        return ManualProvider()
    if name == "test":
        return TestProvider()
    from storefront.checkout.providers.stripe_provider import StripeProvider

    return StripeProvider(config["STRIPE_SECRET_KEY"], config["STRIPE_WEBHOOK_SECRET"])


def init_app(app: Flask) -> None:
    app.extensions["storefront.payment_providers"] = {
        name: _build(name, app.config) for name in app.config["PAYMENT_PROVIDERS"]
    }


def configured() -> dict[str, PaymentProvider]:
    return current_app.extensions["storefront.payment_providers"]


def get(name: str) -> PaymentProvider | None:
    return configured().get(name)
