"""The back office's analytics page and its CSV files, over a report given here (the report's
own numbers are tested with the events that make them): who may see them, that the charts'
data, the tables and the files hold the same numbers, that a spreadsheet reads every cell as
text, and that a bad range is refused saying why."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from storefront import clock
from storefront.analytics import report as analytics_report
from storefront.analytics.report import Day, FunnelStep, Report, TopProduct
from tests.conftest import STAFF_EMAIL
from tests.helpers import Browser

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday
TODAY = date(2026, 12, 2)


def sample_report(start: date, end: date, products: tuple[TopProduct, ...] = ()) -> Report:
    return Report(
        start=start,
        end=end,
        carts_created=40,
        lines_added=120,
        units_added=180,
        lines_removed=12,
        checkouts_started=15,
        orders_placed=9,
        orders_paid=8,
        revenue_cents=41250,
        abandoned_carts=20,
        reminders_sent=6,
        carts_recovered=2,
        payments_failed=3,
        orders_cancelled=1,
        orders_refunded=1,
        funnel=(
            FunnelStep("added_to_cart", 40),
            FunnelStep("started_checkout", 15),
            FunnelStep("placed_order", 9),
        ),
        top_products=products,
        # Only the days something happened: the page fills the others with zeros.
        days=(
            Day(date(2026, 11, 30), carts_created=10, orders_placed=4, orders_paid=4,
                revenue_cents=20000, abandoned_carts=5, reminders_sent=2),
            Day(date(2026, 12, 2), carts_created=30, orders_placed=5, orders_paid=4,
                revenue_cents=21250, abandoned_carts=15, reminders_sent=4, carts_recovered=2),
        ),
    )  # fmt: skip


@pytest.fixture
def asked(monkeypatch):
    """The ranges ``compute`` was asked for; it answers with ``sample_report``."""
    calls: list[tuple[date, date]] = []
    products: list[TopProduct] = []

    def compute(start: date, end: date) -> Report:
        calls.append((start, end))
        return sample_report(start, end, tuple(products))

    monkeypatch.setattr(analytics_report, "compute", compute)
    calls_and_products = calls, products
    return calls_and_products


@pytest.fixture
def frozen():
    clock.freeze(NOW)
    yield
    clock.reset()


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(response))))


def chart_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="analytics-data">(.*?)</script>', page)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def table_row(page: str, testid: str, marker: str) -> list[str]:
    """The cells of the row with ``marker`` (e.g. data-day="...") in the table ``testid``."""
    table = page[page.index(f'data-testid="{testid}"') :]
    table = table[: table.index("</table>")]
    row = table[table.index(marker) :]
    row = row[: row.index("</tr>")]
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
    ]


# --- who may see it --------------------------------------------------------------------------


@pytest.fixture
def people(app, staff):
    shopper = Browser(app.test_client())
    shopper.register("shopper@example.com")
    agent = Browser(app.test_client())
    agent.register("agent@example.com")
    assert (
        app.test_cli_runner().invoke(args=["users", "grant-support", "agent@example.com"]).exit_code
        == 0
    )
    guest = Browser(app.test_client())
    guest.page("/")
    return {"guest": guest, "shopper": shopper, "support": agent, "staff": staff}


@pytest.mark.parametrize(
    "path",
    ["/admin/analytics?from=2026-11-01&to=2026-11-30", "/admin/analytics.csv?table=products"],
)
def test_only_staff_see_the_analytics(people, asked, path):
    guest = people["guest"].page(path)
    assert guest.status_code == 302
    assert guest.headers["Location"].startswith("/login?next=/admin/analytics")
    for role in ("shopper", "support"):
        refused = people[role].page(path)
        assert refused.status_code == 404, role
        assert "Orders placed" not in text(refused) and "carts_created" not in text(refused)
    assert asked[0] == []  # nothing was computed for them
    assert people["staff"].page(path).status_code == 200
    assert len(asked[0]) == 1


def test_a_forged_session_cookie_is_no_staff(app, staff, asked):
    forger = Browser(app.test_client())
    cookie = staff.client.get_cookie("storefront").value
    tampered = cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB")
    forger.client.set_cookie("storefront", tampered)
    response = forger.page("/admin/analytics.csv")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert asked[0] == []


def test_the_back_office_navigation_leads_to_analytics(staff, asked):
    page = text(staff.page("/admin"))
    assert '<a href="/admin/analytics">Analytics</a>' in page
    analytics = text(staff.page("/admin/analytics"))
    assert '<a href="/admin/analytics" aria-current="page">Analytics</a>' in analytics


# --- the page --------------------------------------------------------------------------------


def test_the_first_view_is_the_last_30_days_of_the_shops_calendar(staff, asked, frozen):
    staff.login(STAFF_EMAIL)  # the frozen clock is hours from the sign-in: a new session
    page = text(staff.page("/admin/analytics"))
    assert asked[0] == [(date(2026, 11, 3), TODAY)]
    assert 'value="2026-11-03"' in page and 'value="2026-12-02"' in page
    assert "(30 days), days counted in UTC" in page
    # The preset that matches the range shown is marked as the current one.
    assert re.search(r'<a href="[^"]+" aria-current="true">Last 30 days</a>', page)


class TestInTokyo:
    @pytest.fixture
    def settings(self):
        return {"STOREFRONT_TIME_ZONE": "Asia/Tokyo"}

    def test_today_is_tokyos(self, staff, asked):
        clock.freeze(datetime(2026, 12, 2, 20, 0, tzinfo=UTC))  # 05:00 on the 3rd in Tokyo
        staff.login(STAFF_EMAIL)
        page = text(staff.page("/admin/analytics"))
        assert asked[0] == [(date(2026, 11, 4), date(2026, 12, 3))]
        assert "days counted in Asia/Tokyo" in page


def test_charts_and_tables_hold_the_same_numbers(staff, asked, make_product):
    mug = make_product(name="Blue Mug")
    asked[1].extend([TopProduct(mug, 30, 12), TopProduct("GONE-1", 4, 0)])
    page = text(staff.page("/admin/analytics?from=2026-11-29&to=2026-12-02"))
    assert asked[0] == [(date(2026, 11, 29), TODAY)]

    data = chart_data(page)
    assert data["days"] == ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]
    assert data["orders"] == [0, 4, 0, 5]
    assert data["revenue"] == ["0.00", "200.00", "0.00", "212.50"]
    assert data["abandoned"] == [0, 5, 0, 15]
    assert data["reminders"] == [0, 2, 0, 4]
    assert data["recovered"] == [0, 0, 0, 2]
    assert data["funnel"] == {
        "labels": ["Added to cart", "Started checkout", "Placed an order"],
        "shoppers": [40, 15, 9],
    }
    assert data["products"] == {
        "labels": ["Blue Mug", "GONE-1"],
        "added": [30, 4],
        "ordered": [12, 0],
    }
    assert (data["currency"], data["locale"]) == ("USD", "en-US")

    sales = "analytics-sales-table"
    assert table_row(page, sales, 'data-day="2026-11-30"') == [
        "Mon 2026-11-30",
        "4",
        "4",
        "$200.00",
    ]
    assert table_row(page, sales, 'data-day="2026-12-01"') == ["Tue 2026-12-01", "0", "0", "$0.00"]
    assert table_row(page, sales, "<tfoot>") == ["Total", "9", "8", "$412.50"]
    abandonment = "analytics-abandonment-table"
    assert table_row(page, abandonment, 'data-day="2026-12-02"') == [
        "Wed 2026-12-02",
        "15",
        "4",
        "2",
    ]
    funnel = "analytics-funnel-table"
    assert table_row(page, funnel, 'data-step="added_to_cart"') == [
        "Added to cart",
        "40",
        "100.0 %",
        "—",
    ]
    assert table_row(page, funnel, 'data-step="placed_order"') == [
        "Placed an order",
        "9",
        "22.5 %",
        "60.0 %",
    ]
    products = "analytics-products-table"
    assert table_row(page, products, f'data-sku="{mug}"') == ["Blue Mug", mug, "30", "12"]
    assert table_row(page, products, 'data-sku="GONE-1"')[0] == "(no longer in the catalog)"

    figures = dict(re.findall(r'<dd data-figure="(\w+)">([^<]*)</dd>', page))
    assert figures["revenue"] == "$412.50" and figures["units_added"] == "180"
    assert figures["abandoned_carts"] == "20" and figures["carts_recovered"] == "2"
    assert figures["payments_failed"] == "3" and figures["orders_cancelled"] == "1"


def test_every_chart_has_words_and_a_captioned_table(staff, asked):
    page = text(staff.page("/admin/analytics?from=2026-11-29&to=2026-12-02"))
    canvases = re.findall(r"<canvas[^>]*>", page)
    assert len(canvases) == 3  # no products in this report: no products chart, a sentence
    for canvas in canvases:
        assert 'role="img"' in canvas and "aria-label=" in canvas
    assert "9 orders, $412.50 revenue in all; the most orders, 5, on 2026-12-02" in page
    assert "added to cart 40, started checkout 15, placed an order 9" in page
    assert "No product was added to a cart or ordered in this range." in page
    assert page.count("<caption") == 3 and 'scope="row"' in page and 'scope="col"' in page
    # The tables scroll inside their box: reachable from the keyboard, named by their caption.
    assert page.count('class="table-scroll" tabindex="0" role="region" aria-labelledby=') == 3


def test_the_page_runs_under_the_content_security_policy(app, staff, asked):
    response = staff.page("/admin/analytics")
    page = text(response)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    # Every script is a file of the shop, or data the browser does not run.
    for tag in re.findall(r"<script[^>]*>", page):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    static = Path(app.static_folder)
    for source in re.findall(r'<script src="/static/([^"?]+)', page):
        assert (static / source).is_file(), source
    assert 'src="/static/vendor/chart-4.6.1.umd.min.js"' in page
    assert (static / "vendor/chart-4.6.1.umd.min.js").read_text()[:40].find("Chart.js v4.6.1") > 0
    assert " style=" not in page and "<style" not in page


def test_the_chart_data_cannot_break_out_of_its_script_block(staff, asked, make_product):
    sku = make_product(name="</script><script>alert(1)</script>")
    asked[1].append(TopProduct(sku, 1, 0))
    page = text(staff.page("/admin/analytics"))
    assert "<script>alert(1)" not in page
    assert chart_data(page)["products"]["labels"] == ["</script><script>alert(1)</script>"]


def test_a_quiet_range_says_so_instead_of_drawing_empty_charts(staff, monkeypatch):
    monkeypatch.setattr(analytics_report, "compute", lambda start, end: Report(start, end))
    page = text(staff.page("/admin/analytics?from=2026-01-01&to=2026-01-31"))
    assert "Nothing happened in this range" in page
    assert "<canvas" not in page and "chart-4.6.1" not in page
    assert 'data-figure="orders_placed">0<' in page


# --- bad ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=2026-12-02&to=2026-11-01", "before it starts"),
        ("from=2026-02-30&to=2026-03-02", "not a day of the calendar"),
        ("from=tomorrow&to=2026-12-01", "must be a date like 2026-12-01"),
        ("from=2020-01-01&to=2026-12-01", "a range is at most 366 days"),
        ("from=" + "9" * 5000 + "&to=2026-12-01", "must be a date like"),
        ("from=2026-12-01%00&to=2026-12-02", "must be a date like"),
    ],
)
def test_a_bad_range_is_refused_saying_why(staff, asked, query, says):
    page = staff.page(f"/admin/analytics?{query}")
    assert page.status_code == 422
    body = text(page)
    assert says in body and 'role="alert"' in body and 'aria-invalid="true"' in body
    assert "<canvas" not in body and asked[0] == []
    # The form keeps what was typed (cut short), so it can be corrected.
    assert 'name="from"' in body and len(body) < 40_000

    download = staff.page(f"/admin/analytics.csv?{query}")
    assert download.status_code == 422
    assert download.headers["X-Error-Code"] == "invalid_range"
    assert says in text(download) and "Content-Disposition" not in download.headers
    assert asked[0] == []


def test_an_unknown_table_is_not_there(staff, asked):
    assert staff.page("/admin/analytics.csv?table=../../etc/passwd").status_code == 404
    assert staff.page("/admin/analytics.csv?table=").status_code == 404
    assert asked[0] == []


# --- CSV -------------------------------------------------------------------------------------


def test_the_csv_of_the_range_has_a_row_a_day_and_the_totals(staff, asked):
    response = staff.page("/admin/analytics.csv?from=2026-11-29&to=2026-12-02")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="analytics-days-2026-11-29-to-2026-12-02.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert rows(response) == [
        ["day", "carts_created", "orders_placed", "orders_paid", "revenue", "abandoned_carts",
         "reminders_sent", "carts_recovered"],
        ["2026-11-29", "0", "0", "0", "0.00", "0", "0", "0"],
        ["2026-11-30", "10", "4", "4", "200.00", "5", "2", "0"],
        ["2026-12-01", "0", "0", "0", "0.00", "0", "0", "0"],
        ["2026-12-02", "30", "5", "4", "212.50", "15", "4", "2"],
        ["total", "40", "9", "8", "412.50", "20", "6", "2"],
    ]  # fmt: skip


def test_the_summary_and_funnel_files(staff, asked):
    summary = dict(
        rows(staff.page("/admin/analytics.csv?table=summary&from=2026-12-01&to=2026-12-02"))
    )
    assert summary["from"] == "2026-12-01" and summary["to"] == "2026-12-02"
    assert summary["revenue"] == "412.50" and summary["lines_removed"] == "12"
    assert summary["time_zone"] == "UTC" and summary["currency"] == "USD"
    assert summary["payments_failed"] == "3" and summary["orders_refunded"] == "1"
    funnel = rows(staff.page("/admin/analytics.csv?table=funnel&from=2026-12-01&to=2026-12-02"))
    assert funnel == [
        ["step", "shoppers", "percent_of_first_step", "percent_of_previous_step"],
        ["added_to_cart", "40", "100.0", ""],
        ["started_checkout", "15", "37.5", "37.5"],
        ["placed_order", "9", "22.5", "60.0"],
    ]


def test_a_spreadsheet_reads_every_product_cell_as_text(staff, asked, make_product):
    hostile = {
        "=HYPERLINK(\"http://evil.example\",\"x\")": make_product(name="=HYPERLINK(\"http://evil.example\",\"x\")"),
        "+1+2": make_product(name="+1+2"),
        "@SUM(A1:A9)": make_product(name="@SUM(A1:A9)"),
    }  # fmt: skip
    asked[1].extend(TopProduct(sku, 2, 1) for sku in hostile.values())
    # The catalog takes no SKU starting so, but a report names SKUs of products since deleted.
    asked[1].append(TopProduct("-GONE-1", 2, 1))
    response = staff.page("/admin/analytics.csv?table=products&from=2026-12-01&to=2026-12-02")
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="analytics-products-2026-12-01-to-2026-12-02.csv"'
    )
    table = rows(response)
    assert table[0] == ["sku", "name", "units_added", "units_ordered"]
    by_name = {row[1]: row for row in table[1:]}
    assert set(by_name) == {
        '\'=HYPERLINK("http://evil.example","x")',
        "'+1+2",
        "'@SUM(A1:A9)",
        "",
    }
    assert by_name[""] == ["'-GONE-1", "", "2", "1"]
    for row in table:
        assert not row[0].startswith(("=", "+", "-", "@")) and not row[1].startswith(
            ("=", "+", "-", "@")
        )


# --- with the report computed from events ----------------------------------------------------


class TestFromRecordedEvents:
    """The page over the real ``compute``: events recorded as the shop records them land on
    the shop's days (Berlin here), in the charts' data, the tables and the CSV alike."""

    @pytest.fixture
    def settings(self):
        return {"STOREFRONT_TIME_ZONE": "Europe/Berlin"}

    def test_an_evening_in_utc_is_the_next_day_in_berlin(self, app, staff, make_product):
        from storefront.analytics import events
        from storefront.analytics.kinds import EventKind as K
        from storefront.extensions import db

        sku = make_product(name="Night Owl Mug")
        late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 December in Berlin
        with app.app_context():
            events.record(K.CART_CREATED, "guest:a", at=late, cart_units=2)
            events.record(K.LINE_ADDED, "guest:a", at=late, sku=sku, quantity=2, cart_units=2)
            events.record(K.ORDER_PLACED, "guest:a", at=late, order_number=1001, amount_cents=1998)
            events.record(
                K.LINE_ORDERED, "guest:a", at=late, sku=sku, quantity=2, order_number=1001
            )
            events.record(K.ORDER_PAID, "guest:a", at=late, order_number=1001, amount_cents=1998)
            db.session.commit()

        page = text(staff.page("/admin/analytics?from=2026-12-01&to=2026-12-02"))
        sales = "analytics-sales-table"
        assert table_row(page, sales, 'data-day="2026-12-01"')[1:] == ["0", "0", "$0.00"]
        assert table_row(page, sales, 'data-day="2026-12-02"')[1:] == ["1", "1", "$19.98"]
        assert table_row(page, "analytics-products-table", f'data-sku="{sku}"') == [
            "Night Owl Mug",
            sku,
            "2",
            "2",
        ]
        data = chart_data(page)
        assert data["orders"] == [0, 1] and data["revenue"] == ["0.00", "19.98"]
        assert data["funnel"]["shoppers"] == [1, 0, 1]
        download = rows(staff.page("/admin/analytics.csv?from=2026-12-01&to=2026-12-02"))
        assert download[1][:5] == ["2026-12-01", "0", "0", "0", "0.00"]
        assert download[2][:5] == ["2026-12-02", "1", "1", "1", "19.98"]

    def test_the_longest_range_across_both_clock_changes(self, app, staff):
        from storefront.analytics import events
        from storefront.analytics.kinds import EventKind as K
        from storefront.extensions import db

        # 22:30 UTC on 29 March is 00:30 on the 30th in Berlin, summer time since 02:00.
        spring = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
        with app.app_context():
            events.record(K.CART_CREATED, "guest:b", at=spring, cart_units=1)
            events.record(K.LINE_ADDED, "guest:b", at=spring, sku="X-1", quantity=1, cart_units=1)
            db.session.commit()
        page = staff.page("/admin/analytics?from=2025-12-03&to=2026-12-03")
        assert page.status_code == 200
        body = text(page)
        assert "(366 days)" in body
        days = chart_data(body)["days"]
        assert len(days) == 366 and days[0] == "2025-12-03" and days[-1] == "2026-12-03"
        assert "2026-03-29" in days and "2026-10-25" in days  # Berlin's two 23/25-hour days
        row = table_row(body, "analytics-products-table", 'data-sku="X-1"')
        assert row[2:] == ["1", "0"]
        download = rows(staff.page("/admin/analytics.csv?from=2025-12-03&to=2026-12-03"))
        assert len(download) == 1 + 366 + 1  # heading, a row a day, the totals
        carts_created = {row[0]: row[1] for row in download[1:]}
        assert (carts_created["2026-03-29"], carts_created["2026-03-30"]) == ("0", "1")
        assert carts_created["total"] == "1"
