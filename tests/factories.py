"""Catalog products for tests, made through the catalog's own CSV import.

Each test creates the products it relies on, with the properties it relies on, instead of
counting on the demo catalog's numbering::

    make_product(stock=3)                          # scarce
    make_product(options="size:S|M|L|XL!")         # a required choice
    make_product(options="engraving:text(40)")     # optional free text, at most 40 characters
    make_product(name="Honey Mug", active=False)   # retired

``options`` is the CSV ``options`` notation (see ``storefront/catalog/options.py``). The
functions need an app context; the ``make_product`` and ``make_products`` fixtures
(tests/conftest.py) bring their own. Products live in the test's own database: on SQLite each
test gets a fresh copy of the template, on PostgreSQL the reset between tests truncates
``products`` and copies back only the demo catalog (``products_pristine``).
"""

from __future__ import annotations

import csv
import io
import itertools

from storefront.catalog.services import import_csv

COLUMNS = ("sku", "name", "price", "stock", "description", "options", "active")
_numbers = itertools.count(1)


def unique_sku() -> str:
    """A SKU no other product in the run has; later calls sort after earlier ones."""
    return f"TEST-{next(_numbers):06d}"


def make_products(
    count: int,
    *,
    name: str | None = None,
    price: str = "9.99",
    stock: int = 100,
    options: str = "",
    active: bool = True,
    description: str = "",
) -> list[str]:
    """``count`` new products alike but for their SKU (and name, numbered), in one import;
    returns their SKUs in the order they sort in the catalog."""
    rows = []
    for n in range(1, count + 1):
        sku = unique_sku()
        rows.append(
            {
                "sku": sku,
                "name": f"{name} {n}" if name else f"Product {sku}",
                "price": price,
                "stock": stock,
                "description": description,
                "options": options,
                "active": "true" if active else "false",
            }
        )
    _import(rows)
    return [row["sku"] for row in rows]


def make_product(
    sku: str | None = None,
    *,
    name: str | None = None,
    price: str = "9.99",
    stock: int = 100,
    options: str = "",
    active: bool = True,
    description: str = "",
) -> str:
    """A new product (a unique SKU when none is given); returns its SKU."""
    sku = sku or unique_sku()
    _import(
        [
            {
                "sku": sku,
                "name": name or f"Product {sku}",
                "price": price,
                "stock": stock,
                "description": description,
                "options": options,
                "active": "true" if active else "false",
            }
        ]
    )
    return sku


# A small catalog with one product of each kind, for parametrised tests, which must name
# their products before any exists: the ``sample_catalog`` fixture makes it.
PLAIN = "PLAIN"  # no options, more in stock than one line may hold
SIZED = "SIZED"  # a required size: S, M, L or XL
ENGRAVABLE = "ENGRAVABLE"  # optional engraving, free text of at most 40 characters
LAST_THREE = "LAST-THREE"  # only 3 in stock


def make_sample_catalog() -> None:
    make_product(PLAIN, stock=10_000)
    make_product(SIZED, options="size:S|M|L|XL!")
    make_product(ENGRAVABLE, options="engraving:text(40)")
    make_product(LAST_THREE, stock=3)


def _import(rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    report = import_csv(io.StringIO(text.getvalue()))
    if report.errors or report.created != len(rows):
        raise ValueError(
            f"the catalog refused test products {[r['sku'] for r in rows]}: "
            f"{report.errors or f'{report.updated} already existed'}"
        )
