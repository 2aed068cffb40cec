"""``starbase billing ...`` and ``starbase worker``: the monthly close, refunds, prices, the job worker.

Registered on the ``starbase`` group by :func:`register` (the database options and resolution
are the main CLI's, passed in). The job queue, the payment and audit adapters are imported by
the commands that use them, so ``starbase --help`` stays quick.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

from starform_adapters.postgres import migrate, open_pool
from starform_apps.starbase.config import StarbaseConfig
from starform_core.billing import BillingMonth, format_minor, load_price_book, to_minor
from starform_core.errors import StarformError

if TYPE_CHECKING:
    from starform_apps.starbase.billing import Billing

__all__ = ["register"]

Database = Callable[[StarbaseConfig], AbstractContextManager[tuple[str, pathlib.Path | None]]]
Option = Callable[[Callable[..., None]], Callable[..., None]]


@contextmanager
def _billing(database: Database, data_dir: pathlib.Path | None) -> Iterator[tuple[Billing, str]]:
    from prometheus_client import CollectorRegistry

    from starform_adapters.postgres.job_schema import migrate_job_queue
    from starform_apps.starbase.billing import BillingConfig
    from starform_apps.starbase.billing.wiring import open_billing
    from starform_apps.starbase.jobs import ProcrastinateScheduler, create_job_app

    config = StarbaseConfig.from_env(data_dir=data_dir)
    billing_config = BillingConfig.from_env()
    with database(config) as (url, _):
        migrate(url)
        migrate_job_queue(url)
        pool = open_pool(url, max_size=4)
        scheduler = ProcrastinateScheduler(create_job_app(url))
        try:
            yield (
                open_billing(pool, billing_config, registry=CollectorRegistry(), scheduler=scheduler),
                url,
            )
        finally:
            scheduler.close()
            pool.close()


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> BillingMonth:
    try:
        return BillingMonth.parse(value)
    except StarformError as exc:
        raise click.BadParameter(str(exc)) from exc


def _close_month(database: Database, data_dir_option: Option) -> click.Command:
    @click.command("close-month")
    @click.option("--month", required=True, callback=_month, help="The month to close, YYYY-MM.")
    @click.option("--workspace", "workspace_id", default=None, help="Close only this workspace.")
    @data_dir_option
    def close_month(month: BillingMonth, workspace_id: str | None, data_dir: pathlib.Path | None) -> None:
        """Close a month into one invoice per workspace (running it again changes nothing)."""
        try:
            with _billing(database, data_dir) as (billing, _):
                billing.close.check_closable(month)
                targets = [workspace_id] if workspace_id else billing.invoices.workspaces_with_charges(month)
                for target in targets:
                    invoice = billing.close.close(target, month)
                    if invoice is None:
                        click.echo(f"{target}: nothing to invoice")
                        continue
                    total = f"{format_minor(invoice.total_minor, invoice.currency)} {invoice.currency}"
                    click.echo(f"{target}: invoice {invoice.invoice_id} {total} {invoice.status.value}")
                click.echo(f"{month}: {len(targets)} workspace(s) closed")
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc

    return close_month


def _credit_note(database: Database, data_dir_option: Option) -> click.Command:
    @click.command("credit-note")
    @click.option("--invoice", "invoice_id", required=True)
    @click.option("--amount", required=True, help="In major units, e.g. 12.50.")
    @click.option(
        "--reason", required=True, help="duplicate, fraudulent, order_change, product_unsatisfactory or text."
    )
    @click.option("--memo", default="")
    @click.option("--credit-only", is_flag=True, help="Credit the customer's balance instead of refunding.")
    @data_dir_option
    def credit_note(
        invoice_id: str, amount: str, reason: str, memo: str, credit_only: bool, data_dir: pathlib.Path | None
    ) -> None:
        """Refund (or credit) part of an invoice as a credit note."""
        try:
            value = Decimal(amount)
        except InvalidOperation as exc:
            raise click.BadParameter("must be a decimal amount such as 12.50", param_hint="--amount") from exc
        try:
            with _billing(database, data_dir) as (billing, _):
                invoice = billing.invoices.invoice(invoice_id)
                minor = to_minor(value, invoice.currency)
                note = billing.collection.credit_note(
                    invoice_id, minor, reason, memo=memo, refund=not credit_only
                )
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"credit note {note.credit_note_id}: {format_minor(note.amount_minor, invoice.currency)}")

    return credit_note


@click.command("prices")
def prices() -> None:
    """Print the price sheets."""
    for sheet in load_price_book().sheets:
        click.echo(f"price sheet {sheet.version} (from {sheet.effective_from}, {sheet.currency})")
        for tier, p in sheet.tiers.items():
            click.echo(
                f"  {tier.value:<10} fee {p.monthly_fee} credit {p.included_credit}"
                f" vCPU-minute {p.vcpu_minute} GiB-minute {p.memory_gib_minute}"
                f" volume GiB-month {p.volume_gib_month} build minute {p.build_minute}"
            )


def _verify(database: Database, data_dir_option: Option) -> click.Command:
    @click.command("verify")
    @click.option("--month", required=True, callback=_month)
    @click.option("--workspace", "workspace_id", required=True)
    @data_dir_option
    def verify(month: BillingMonth, workspace_id: str, data_dir: pathlib.Path | None) -> None:
        """Re-meter a month from the audit trail and compare with the running totals (exit 1 if off)."""
        try:
            from starform_apps.starbase.billing.verify import verify_usage

            with _billing(database, data_dir) as (billing, _):
                check = verify_usage(billing.ledger, billing.audit, workspace_id, month)
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{check.snapshots} audited snapshot(s), {len(check.stored)} running total(s)")
        for key, expected, stored in check.differences:
            click.echo(f"MISMATCH {key.tenant.service_id} {key.tier.value}: audit {expected} stored {stored}")
        if check.differences:
            raise SystemExit(1)
        click.echo("running totals match the audit trail")

    return verify


def _worker(database: Database, data_dir_option: Option) -> click.Command:
    @click.command("worker")
    @click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 32))
    @click.option("--once", is_flag=True, help="Run the queued jobs that are due, then exit.")
    @data_dir_option
    def worker(concurrency: int, once: bool, data_dir: pathlib.Path | None) -> None:
        """Run Starbase's job worker (monthly close, dunning, purges) until interrupted."""
        from starform_apps.starbase.jobs import create_job_app, run_worker
        from starform_apps.starbase.logs import configure_logging

        configure_logging(StarbaseConfig.from_env(data_dir=data_dir).log_level)
        try:
            with _billing(database, data_dir) as (billing, url):
                run_worker(
                    create_job_app(url), context={"billing": billing}, concurrency=concurrency, wait=not once
                )
        except StarformError as exc:
            raise click.ClickException(str(exc)) from exc

    return worker


def register(
    main: click.Group,
    *,
    database: Database,
    data_dir_option: Option,
    versioned: Callable[[click.Command], click.Command] = lambda command: command,
) -> None:
    """Add ``billing`` (close-month, credit-note, prices, verify) and ``worker`` to ``starbase``;
    ``versioned`` gives each of them the main CLI's ``--version``."""
    group = click.Group("billing", help="Usage, invoices and payments.")
    for factory in (_close_month, _credit_note, _verify):
        group.add_command(factory(database, data_dir_option))
    group.add_command(prices)
    worker = _worker(database, data_dir_option)
    for command in (group, *group.commands.values(), worker):
        versioned(command)
    main.add_command(group)
    main.add_command(worker)
