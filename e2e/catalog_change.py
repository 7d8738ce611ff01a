"""A staff change to a product, made the way the back office makes one (snapshot, change,
commit, ``catalog.changes.announce``), from a process of its own with a server's environment,
as ``python -m e2e.catalog_change``. For the live-catalog tests until they drive the admin JSON
API (``PATCH /api/v1/admin/products/<sku>``) instead.

    python -m e2e.catalog_change create SKU NAME PRICE STOCK
    python -m e2e.catalog_change change SKU [--price 4.99] [--stock 2] [--retire | --bring-back]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(env: dict[str, str], *args: str) -> None:
    """Run this helper against the shop whose environment is ``env`` (a LiveServer's)."""
    done = subprocess.run(
        [sys.executable, "-m", "e2e.catalog_change", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"catalog_change {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="e2e.catalog_change")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create")
    for name in ("sku", "name", "price", "stock"):
        create.add_argument(name)
    change = commands.add_parser("change")
    change.add_argument("sku")
    change.add_argument("--price")
    change.add_argument("--stock", type=int)
    change.add_argument("--retire", action="store_true")
    change.add_argument("--bring-back", action="store_true")
    args = parser.parse_args(argv)

    from storefront import create_app
    from storefront.catalog import changes
    from storefront.catalog.services import by_sku, import_csv
    from storefront.extensions import db
    from storefront.orders import stock

    app = create_app()
    with app.app_context():
        if args.command == "create":
            report = import_csv(
                io.StringIO(
                    f"sku,name,price,stock\n{args.sku},{args.name},{args.price},{args.stock}\n"
                )
            )
            if report.errors:
                raise SystemExit(f"create: {report.errors}")
            return
        product = by_sku(args.sku)
        if product is None:
            raise SystemExit(f"no product {args.sku}")
        before = changes.snapshot(product)
        if args.price is not None:
            product.price_cents = int(Decimal(args.price) * 100)
        if args.stock is not None:
            stock.adjust(product.id, args.stock - product.stock, "staff")  # the ledger agrees
            product.stock = args.stock
        if args.retire or args.bring_back:
            product.active = args.bring_back
        db.session.commit()
        changes.announce(before, changes.snapshot(product))


if __name__ == "__main__":
    main(sys.argv[1:])
