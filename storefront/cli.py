"""The command line: ``flask --app storefront COMMAND`` and ``storefront COMMAND`` are the same."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup


def register_commands(app: Flask) -> None:
    register_maintenance(app)

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


def register_maintenance(app: Flask) -> None:
    @app.cli.command("cleanup")
    def cleanup_command():
        """Expire idle guest carts and prune history past retention (safe to run from cron)."""
        from storefront.cart import retention

        work = retention.plan()
        if sys.stdout.isatty():
            with click.progressbar(length=work.size, label="cleanup") as bar:
                summary = retention.run(work, bar.update)
        else:
            summary = retention.run(work)
        click.echo(summary.line())

    @app.cli.command("rotate-keys")
    def rotate_keys_command():
        """Re-encrypt stored cart data under the first key of STOREFRONT_ENCRYPTION_KEYS."""
        from storefront.cart import rotation

        total = rotation.remaining()
        if sys.stdout.isatty():
            with click.progressbar(length=total, label="rotate-keys") as bar:
                done = rotation.rotate(bar.update)
        else:
            done = rotation.rotate()
        left = rotation.remaining()
        click.echo(
            f"rotate-keys: {done} values re-encrypted under the first key; {left} left"
            + ("; the other keys can now be removed" if left == 0 else "; run it again")
        )

    users = AppGroup("users", help="Manage shop accounts.")

    @users.command("grant-support")
    @click.argument("email")
    def grant_support(email):
        """Give EMAIL the support role."""
        _set_support(email, True)

    @users.command("revoke-support")
    @click.argument("email")
    def revoke_support(email):
        """Take the support role from EMAIL."""
        _set_support(email, False)

    @users.command("reset-password")
    @click.argument("email")
    def reset_password(email):
        """Set a new password for EMAIL, read from standard input."""
        from storefront.accounts import services

        password = sys.stdin.readline().rstrip("\r\n")
        try:
            services.set_password(email, password)
        except services.AccountError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"password changed for {services.normalise_email(email)}")

    app.cli.add_command(users)


def _set_support(email: str, value: bool) -> None:
    from storefront.accounts import services

    try:
        services.set_support(email, value)
    except services.AccountError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"{services.normalise_email(email)}: support role {'granted' if value else 'revoked'}"
    )


def main() -> None:
    from storefront import create_app

    FlaskGroup(create_app=create_app, help="storefront: run and manage the shop.")()
