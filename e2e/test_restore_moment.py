"""Restore to a moment from the history page in a real browser: the shopper types a date and
time, sees the cart as it was then, and brings it back."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from urllib.parse import quote

from playwright.sync_api import Page, expect

from e2e.shop import add_to_cart, api_history, expect_lines, notice, visit

# The moment is at most a second ahead: a bound in time, not in tries (200 tries were enough
# only while each answer took 5 ms or more; the shop answers faster now).
WAIT_SECONDS = 10.0


def server_has_passed(page: Page, moment: datetime) -> None:
    """Wait until the server's clock has passed ``moment``: until then it refuses the moment as
    in the future (a wait on the server's answer, never a fixed sleep)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if page.request.get(f"/api/v1/cart/history?at={quote(moment.isoformat())}").status == 200:
            return
    raise AssertionError(f"the server's clock never passed {moment}")


def test_the_history_page_restores_the_cart_as_it_was_at_a_time(new_device):
    page = new_device()
    add_to_cart(page, "DEMO-0070", 1)
    first_at = datetime.fromisoformat(api_history(page)[0]["at"])
    # A whole second after the first change, before the second: the field takes seconds.
    moment = datetime.fromtimestamp(math.floor(first_at.timestamp()) + 1, UTC)
    server_has_passed(page, moment)
    add_to_cart(page, "DEMO-0071", 2)

    visit(page, "/cart/history")
    field = page.get_by_label(re.compile("Date and time"))
    field.fill(moment.strftime("%Y-%m-%dT%H:%M:%S"))  # the e2e shop's time zone is UTC
    page.get_by_test_id("history-at-show").click()
    shown = page.get_by_test_id("history-moment")
    expect(shown).to_have_attribute("data-revision", "1")
    expect(page.get_by_test_id("history-moment-line")).to_have_count(1)
    expect(page.get_by_test_id("history-moment-line")).to_have_attribute("data-sku", "DEMO-0070")

    page.get_by_test_id("history-at-restore").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(notice(page)).to_contain_text("back as it was at revision 1")
    expect_lines(page, {"DEMO-0070": 1})
