"""schemathesis against /api/v1/openapi.json: generated requests, hostile ones included, get no
server error and every response matches the schema. A hook hands every call a session cookie
and CSRF token, so the generated requests reach past the 403s to the real handlers."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.helpers import Browser

EXAMPLES = 30


def signed_session(app, sku: str) -> dict:
    browser = Browser(app.test_client())
    browser.add(sku, 2)  # a cart with a line and history, so paths with ids can hit
    cookie = browser.client.get_cookie("storefront").value
    return {"Cookie": f"storefront={cookie}", "X-CSRF-Token": browser.csrf}


def test_the_api_matches_its_schema_and_never_fails(app, make_product):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    session = signed_session(app, make_product())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            response = case.call(headers={**(case.headers or {}), **session})
            assert response.status_code < 500, (case.operation.label, response.text)
            case.validate_response(response)

        check()
