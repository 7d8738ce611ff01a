"""The command line: ``flask --app storefront COMMAND`` and ``storefront COMMAND`` are the same."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup


def register_commands(app: Flask) -> None:
    register_maintenance(app)

    @app.cli.command("demo")
    def demo_command():
        """Load the demo catalog (1,500 products); running it again changes nothing."""
        from storefront.catalog.demo import load_demo
        from storefront.checkout import setup

        report = load_demo()
        setup.load_demo()
        click.echo(f"demo catalog: {report.created} products added, the rest already there")
        click.echo("demo shipping (standard, pickup), tax (10 %) and coupon WELCOME10 in place")

    def _report_import(report):
        for line, message in report.errors:
            click.echo(f"line {line}: {message}", err=True)
        click.echo(
            f"{report.created} created, {report.updated} updated, "
            f"{len(report.errors)} row(s) rejected"
            + (" (nothing imported)" if report.errors else "")
        )
        if report.errors:
            raise SystemExit(1)

    @app.cli.command("import-shipping")
    @click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
    def import_shipping_command(csv_file):
        """Add or update shipping methods from a CSV file (see README for the columns)."""
        from storefront.checkout import setup

        _report_import(setup.import_shipping(csv_file))

    @app.cli.command("import-tax")
    @click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
    def import_tax_command(csv_file):
        """Add or update tax rates from a CSV file (see README for the columns)."""
        from storefront.checkout import setup

        _report_import(setup.import_tax(csv_file))

    @app.cli.command("stock-check")
    def stock_check_command():
        """Report every product whose stock differs from the sum of its stock ledger."""
        from storefront.orders import stock

        wrong = stock.mismatches()
        for sku, in_stock, ledger in wrong:
            click.echo(f"{sku}: stock {in_stock}, ledger says {ledger}")
        click.echo(f"stock-check: {len(wrong)} product(s) do not match their ledger")
        if wrong:
            raise SystemExit(1)

    coupons = AppGroup("coupons", help="Manage coupons.")

    @coupons.command("create")
    @click.argument("code")
    @click.option("--percent", "percent", help="Percent off the subtotal, e.g. 10.")
    @click.option("--amount", "amount", help="Amount off, e.g. 5.00.")
    @click.option("--free-shipping", is_flag=True, help="Shipping becomes free.")
    @click.option("--minimum", default="0", help="Smallest subtotal it applies to, e.g. 30.00.")
    @click.option("--starts", type=click.DateTime(), help="Valid from (UTC).")
    @click.option("--ends", type=click.DateTime(), help="Valid until (UTC).")
    @click.option("--limit", type=int, help="How many times it can be used in all.")
    @click.option("--once-per-customer", is_flag=True, help="Each email address uses it once.")
    def create_coupon(
        code, percent, amount, free_shipping, minimum, starts, ends, limit, once_per_customer
    ):
        """Create coupon CODE: exactly one of --percent, --amount, --free-shipping."""
        from datetime import UTC

        from storefront.checkout import setup

        kinds = [
            k
            for k, v in (("percent", percent), ("fixed", amount), ("free_shipping", free_shipping))
            if v
        ]
        if len(kinds) != 1:
            raise click.UsageError("give exactly one of --percent, --amount, --free-shipping")
        try:
            coupon = setup.create_coupon(
                code,
                kinds[0],
                value=percent or amount or "0",
                min_subtotal=minimum,
                starts_at=starts.replace(tzinfo=UTC) if starts else None,
                ends_at=ends.replace(tzinfo=UTC) if ends else None,
                usage_limit=limit,
                once_per_customer=once_per_customer,
            )
        except setup.RowError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"coupon {coupon.code} created")

    app.cli.add_command(coupons)

    @app.cli.command("import-products")
    @click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
    def import_products_command(csv_file):
        """Load or update products from a CSV file (see README for the columns)."""
        from storefront.catalog import changes
        from storefront.catalog.services import import_csv

        before = changes.facts_by_sku()
        report = import_csv(csv_file)
        # Open pages and carts hear of the new prices and stock, as after a back-office change.
        changes.announce_many((before.get(sku), f) for sku, f in changes.facts_by_sku().items())
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

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--verify", is_flag=True, help="Check the backup at PATH instead of making one.")
    @click.option(
        "--keys",
        "keys_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="With --verify: the keys file, when it is kept apart from the backup.",
    )
    def backup_command(path, verify, keys_file):
        """Back up the running shop into the new folder PATH (database, images, keys, manifest);
        with --verify, check the backup at PATH and exit non-zero if anything is wrong."""
        from flask import current_app

        from storefront.backup import databases, make
        from storefront.backup import verify as checking
        from storefront.backup.progress import StageProgress

        progress = StageProgress("verify" if verify else "backup")
        if verify:
            result = checking.verify(
                path,
                server_url=current_app.config["SQLALCHEMY_DATABASE_URI"],
                configured_keys=current_app.config["ENCRYPTION_KEYS"],
                keys_file=keys_file,
                progress=progress,
            )
            progress.close()
            for line in result.lines():
                click.echo(line, err=line.startswith("PROBLEM"))
            raise SystemExit(0 if result.ok else 1)
        try:
            made = make.make(path, progress)
        except (make.BackupRefused, databases.ToolMissing, OSError) as exc:
            progress.close()
            raise click.ClickException(f"backup failed: {exc}") from None
        progress.close()
        for name in made.images_gone:
            click.echo(f"note: image {name} was deleted while the backup ran", err=True)
        click.echo(made.line())

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Replace a database that already holds data.")
    @click.option(
        "--keys",
        "keys_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The backup's keys file, when it is kept apart from the backup.",
    )
    def restore_command(path, force, keys_file):
        """Load the backup at PATH into this shop, whose database must have no tables."""
        from storefront.backup import databases, manifest, restore
        from storefront.backup.progress import StageProgress

        progress = StageProgress("restore")
        try:
            result = restore.restore(path, force=force, keys_file=keys_file, progress=progress)
        except (
            restore.RestoreRefused,
            manifest.BackupDamaged,
            databases.ToolMissing,
            OSError,
        ) as exc:
            progress.close()
            raise click.ClickException(f"restore refused: {exc}") from None
        progress.close()
        for note in result.notes:
            click.echo(f"note: {note}")
        click.echo(result.line())
        click.echo("next: `storefront db upgrade` brings the schema up to this version's")

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Run every job once and exit.")
    @click.option(
        "--metrics",
        "metrics_at",
        envvar="STOREFRONT_WORKER_METRICS",
        metavar="HOST:PORT",
        help="Also serve this process's GET /metrics there (the emails it sends, the orders "
        "it expires: the web's /metrics cannot see them). Not with --once.",
    )
    def worker_command(once, metrics_at):
        """Run the background jobs (unpaid orders, interrupted payments) apart from the web."""
        import signal
        import threading

        from flask import current_app

        from storefront import jobs, worker_metrics

        if once:
            click.echo(jobs.run_once().line())
            return
        shop = current_app._get_current_object()
        server = None
        if metrics_at:
            try:
                server = worker_metrics.serve(shop, metrics_at)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--metrics") from None
            except worker_metrics.SharedFolder as exc:
                raise click.ClickException(str(exc)) from None
            except OSError as exc:
                raise click.ClickException(f"cannot serve metrics on {metrics_at}: {exc}") from None
            click.echo(f"worker: metrics at {worker_metrics.url(server)}")
        # SIGINT (Ctrl+C, systemd's KillSignal) or SIGTERM (docker stop, most supervisors): the
        # job under way finishes, then the worker stops. Set here, not inherited: a process
        # started in the background by a shell ignores SIGINT, and Python then leaves it so.
        stop = threading.Event()
        for stopping in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stopping, lambda *_: stop.set())
        click.echo("worker: running jobs every 30 s; Ctrl+C stops")
        try:
            jobs.run_forever(shop, stop)
        finally:
            if server is not None:
                server.shutdown()
        click.echo("worker: stopped")

    users = AppGroup("users", help="Manage shop accounts.")

    @users.command("grant-support")
    @click.argument("email")
    def grant_support(email):
        """Give EMAIL the support role."""
        _set_role(email, "support", True)

    @users.command("revoke-support")
    @click.argument("email")
    def revoke_support(email):
        """Take the support role from EMAIL."""
        _set_role(email, "support", False)

    @users.command("grant-staff")
    @click.argument("email")
    def grant_staff(email):
        """Give EMAIL the staff role: the back office at /admin."""
        _set_role(email, "staff", True)

    @users.command("revoke-staff")
    @click.argument("email")
    def revoke_staff(email):
        """Take the staff role from EMAIL."""
        _set_role(email, "staff", False)

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

    analytics = AppGroup("analytics", help="The commerce analytics (STOREFRONT_ANALYTICS_DAYS).")

    @analytics.command("verify")
    @click.option(
        "--from", "start", metavar="YYYY-MM-DD", help="First day (default: the oldest kept)."
    )
    @click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day, included (default: today).")
    def verify_command(start, end):
        """Recompute the analytics from the carts' revision logs and the orders still held and
        compare with the recorded events; exits 1 on any mismatch."""
        from storefront.analytics import verify

        first, last = _verify_range(start, end)
        result = verify.run(first, last)
        for line in result.lines():
            click.echo(line)
        if not result.ok:
            raise SystemExit(1)

    app.cli.add_command(analytics)


def _verify_range(start: str | None, end: str | None):
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from flask import current_app

    from storefront import clock

    def day(value: str, name: str) -> date:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(
                f"{value[:40]!r} is not a date (YYYY-MM-DD)", param_hint=name
            ) from None

    config = current_app.config
    today = clock.now().astimezone(ZoneInfo(config["TIME_ZONE"])).date()
    last = day(end, "--to") if end else today
    first = day(start, "--from") if start else today - timedelta(days=config["ANALYTICS_DAYS"])
    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    return first, last


def _set_role(email: str, role: str, value: bool) -> None:
    from storefront.accounts import services

    try:
        services.set_role(email, role, value)
    except services.AccountError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"{services.normalise_email(email)}: {role} role {'granted' if value else 'revoked'}"
    )


def main() -> None:
    from storefront import create_app

    FlaskGroup(create_app=create_app, help="storefront: run and manage the shop.")()
