"""schemathesis against /api/v1/openapi.json on a live server, exactly as a maintainer runs it by
hand: the `schemathesis run` command line with every check (`--checks all`) in every phase
(examples, coverage, fuzzing, stateful through the document's links) and the repository's
schemathesis.toml. Generated requests, hostile ones included, must get no server error, every
response must match the document, and the API must accept what the document calls valid and
refuse what it calls invalid. The shopper's session cookie and CSRF token go on every request,
so the generated requests reach past the 403s to the real handlers. The shop runs the `test`
and `manual` payment providers, and the checkout is filled in, so a generated completion can
place a real order (tok_ok…), be declined (402) or meet an unreachable provider (502, the one
server error the document declares)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import update

from storefront.api import openapi
from storefront.catalog.models import Product
from storefront.extensions import db
from tests.live import HttpShopper, serve

ROOT = Path(__file__).resolve().parent.parent
# Capped so the whole run stays under a minute; the coverage phase is not capped by it.
EXAMPLES = 15
PHASES = "examples,coverage,fuzzing,stateful"
DETAILS = {
    "email": "ada@example.com",
    "address": {
        "name": "Ada Lovelace",
        "address_line1": "12 Analytical Row",
        "city": "London",
        "postal_code": "N1 1AA",
        "country": "GB",
    },
    "shipping_method": "standard",
}
PAY = {"payment": {"provider": "test", "token": "tok_ok"}}


@pytest.fixture
def settings():
    # Completions unlimited, as cart changes are (conftest): the handler is under test, not the
    # limiter, which would otherwise answer most generated completions with 429.
    return {
        "STOREFRONT_PAYMENT_PROVIDERS": "test,manual",
        "STOREFRONT_CHECKOUT_RATE_LIMIT": "10000/minute",
    }


def test_the_api_does_what_its_openapi_document_says(app, tmp_path, make_product):
    with serve(app) as base:
        shopper = HttpShopper(base)
        # A placed order, so the order list and the order's own address hold something real.
        sku = make_product()
        status, _ = shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": 1})
        assert status == 200
        status, _ = shopper.call("PUT", "/checkout", DETAILS)
        assert status == 200
        status, _ = shopper.call("POST", "/checkout/complete", PAY)
        assert status == 201
        # A cart with a line and history, so links and paths with ids can hit something real,
        # and a checkout ready to complete, so completions get past checkout_incomplete.
        status, _ = shopper.call("POST", "/cart/lines", {"sku": sku, "quantity": 2})
        assert status == 200
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{base}/api/v1/openapi.json",
            "--url",
            f"{base}/api/v1",
            "--checks",
            "all",
            "--phases",
            PHASES,
            "--max-examples",
            str(EXAMPLES),
            "--header",
            f"Cookie: {shopper.cookie}",
            "--header",
            f"X-CSRF-Token: {shopper.csrf}",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ]
        if os.environ.get("CI") == "true":
            command += ["--seed", "1"]  # the same requests on every CI run
        env = {**os.environ, "NO_COLOR": "1"}
        result = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    # Every phase ran (none skipped as not applicable) and every operation was tested.
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-4000:]
    assert "Tested: 12" in report, report[-4000:]


def _set_stock(app, sku: str, stock: int) -> None:
    with app.app_context():
        db.session.execute(update(Product).where(Product.sku == sku).values(stock=stock))
        db.session.commit()


def _conforms(operation: dict, response) -> None:
    """The response matches what the document declares for its status, $refs resolved."""
    declared = operation["responses"][str(response.status_code)]
    schema = declared["content"]["application/json"]["schema"]
    document = openapi.document()
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    errors = [error.message for error in validator.iter_errors(response.json)]
    assert not errors, (response.status_code, response.json, errors)


@pytest.mark.parametrize("include_tax", [False, True])
def test_the_answers_a_fuzzer_seldom_reaches_match_the_document(
    app, browser, make_product, include_tax
):
    """Every outcome of a completion (an order paid or pending, declined, unreachable, out of
    stock, incomplete), the checkout with tax included, and the order read back, checked
    against the document: schemathesis reaches these only by luck."""
    app.config["PRICES_INCLUDE_TAX"] = include_tax
    paths = openapi.document()["paths"]
    complete = paths["/checkout/complete"]["post"]
    sku = make_product(stock=5)
    browser.add(sku, 2)
    incomplete = browser.api("POST", "/checkout/complete", json=PAY)
    assert incomplete.status_code == 422 and incomplete.json["error"]["fields"]
    _conforms(complete, incomplete)
    checkout = browser.api("PUT", "/checkout", json={**DETAILS, "coupon": "WELCOME10"})
    _conforms(paths["/checkout"]["put"], checkout)
    assert ("tax_included" in checkout.json) is include_tax
    for token, status in (("tok_declined", 402), ("tok_error", 502)):
        refused = browser.api(
            "POST", "/checkout/complete", json={"payment": {**PAY["payment"], "token": token}}
        )
        assert refused.status_code == status
        _conforms(complete, refused)
    _set_stock(app, sku, 1)  # the cart holds 2
    short = browser.api("POST", "/checkout/complete", json=PAY)
    assert short.status_code == 409 and short.json["error"]["skus"] == [sku]
    _conforms(complete, short)
    _set_stock(app, sku, 5)
    paid = browser.api("POST", "/checkout/complete", json=PAY)
    assert paid.status_code == 201
    _conforms(complete, paid)
    browser.add(sku, 1)
    pending = browser.api("POST", "/checkout/complete", json={"payment": {"provider": "manual"}})
    assert pending.status_code == 201 and "held_until" in pending.json["order"]
    _conforms(complete, pending)
    number = pending.json["order"]["number"]
    _conforms(paths["/orders/{number}"]["get"], browser.api("GET", f"/orders/{number}"))
    listed = browser.api("GET", "/orders")
    assert [o["number"] for o in listed.json["orders"]] == [number, paid.json["order"]["number"]]
    _conforms(paths["/orders"]["get"], listed)
    _conforms(paths["/orders/{number}"]["get"], browser.api("GET", "/orders/999999"))
    history = browser.api("GET", "/cart/history")
    assert "order" in {revision["source"] for revision in history.json["revisions"]}
    _conforms(paths["/cart/history"]["get"], history)
