"""The command line: ``flask --app storefront COMMAND`` and ``storefront COMMAND`` are the same."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_commands(app: Flask) -> None:
    @app.cli.command("demo")
    def demo_command():
        """Load the demo catalog (1,500 products); running it again changes nothing."""
        from storefront.catalog.demo import load_demo

        report = load_demo()
        click.echo(f"demo catalog: {report.created} products added, the rest already there")

    @app.cli.command("import-products")
    @click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
    def import_products_command(csv_file):
        """Load or update products from a CSV file (see README for the columns)."""
        from storefront.catalog.services import import_csv

        report = import_csv(csv_file)
        for line, message in report.errors:
            click.echo(f"line {line}: {message}", err=True)
        click.echo(
            f"{report.created} created, {report.updated} updated, "
            f"{len(report.errors)} row(s) rejected"
        )
        if report.errors:
            raise SystemExit(1)


def main() -> None:
    from storefront import create_app

    FlaskGroup(create_app=create_app, help="storefront: run and manage the shop.")()
