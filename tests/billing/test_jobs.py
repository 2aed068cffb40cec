"""Starbase's job queue (procrastinate on PostgreSQL): schema, registry, periodic close, dunning jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from procrastinate.periodic import PeriodicDeferrer
from prometheus_client import CollectorRegistry
from tests.billing.harness import Clock
from tests.billing.world import make_tenant

from starform_adapters.postgres import migrate, open_pool
from starform_adapters.postgres.job_schema import migrate_job_queue
from starform_apps.starbase.billing import Billing, BillingConfig
from starform_apps.starbase.billing.tasks import CLOSE_CRON, PURGE_CRON, TransientErrors
from starform_apps.starbase.billing.wiring import open_billing
from starform_apps.starbase.jobs import ProcrastinateScheduler, create_job_app, run_worker
from starform_core.billing import BillingMonth, InvoiceStatus
from starform_core.errors import PaymentProviderError, StoreError, ValidationError
from starform_testkit.postgres import fresh_database

CLOSE_TIME = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def queue_db(pg_server: str) -> Iterator[str]:
    """A fresh database with Starbase's schema and the job queue's."""
    with fresh_database(pg_server, prefix="starform_jobs") as url:
        migrate(url)
        assert migrate_job_queue(url) == ["schema.sql"]
        yield url


def _jobs(url: str) -> list[tuple[str, str, dict[str, object]]]:
    with psycopg.connect(url) as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                "SELECT task_name, status, args FROM procrastinate_jobs ORDER BY id"
            ).fetchall()
        ]


def test_the_queue_schema_is_applied_once_and_recorded(queue_db: str) -> None:
    assert migrate_job_queue(queue_db) == []
    with psycopg.connect(queue_db) as conn:
        recorded = conn.execute("SELECT count(*) FROM job_queue_migrations").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'procrastinate_jobs'"
        ).fetchone()
    assert recorded is not None and recorded[0] > 10
    assert tables == (1,)


def test_every_billing_task_is_registered_with_its_schedule() -> None:
    app = create_job_app("postgresql://unused")
    assert {
        "billing:close_previous_month",
        "billing:close_workspace_month",
        "billing:collect_payment",
        "billing:purge_usage_state",
    } <= set(app.tasks)
    crons = {
        task.name: periodic.cron
        for (task_name, _), periodic in app.periodic_registry.periodic_tasks.items()
        for task in [periodic.task]
    }
    assert crons == {"billing:close_previous_month": CLOSE_CRON, "billing:purge_usage_state": PURGE_CRON}


def _billing(url: str, scheduler: ProcrastinateScheduler, clock: Clock) -> Iterator[Billing]:
    pool = open_pool(url, max_size=4)
    try:
        yield open_billing(
            pool, BillingConfig(), registry=CollectorRegistry(), scheduler=scheduler, clock=clock
        )
    finally:
        pool.close()


async def _defer_periodic(url: str, at: dt.datetime) -> None:
    app = create_job_app(url)
    async with app.open_async():
        deferrer = PeriodicDeferrer(app.periodic_registry)
        await deferrer.defer_jobs(deferrer.get_previous_tasks(at=at.timestamp()))


def test_the_periodic_close_runs_on_the_first_and_closes_every_workspace_once(queue_db: str) -> None:
    tenants = [make_tenant(queue_db, tier="hobby") for _ in range(2)]
    scheduler = ProcrastinateScheduler(create_job_app(queue_db))
    clock = Clock(CLOSE_TIME)
    try:
        for billing in _billing(queue_db, scheduler, clock):
            for _ in range(2):  # two workers' deferrers at the same tick: procrastinate keeps one job
                asyncio.run(_defer_periodic(queue_db, CLOSE_TIME + dt.timedelta(seconds=30)))
            deferred = [j for j in _jobs(queue_db) if j[0] == "billing:close_previous_month"]
            assert len(deferred) == 1 and deferred[0][2]["timestamp"] == int(CLOSE_TIME.timestamp())
            run_worker(create_job_app(queue_db), context={"billing": billing}, wait=False)
            run_worker(create_job_app(queue_db), context={"billing": billing}, wait=False)
            november = BillingMonth(2026, 11)
            for tenant in tenants:
                invoice = billing.invoices.invoice_for(tenant.workspace_id, november)
                assert (
                    invoice is not None
                    and invoice.status is InvoiceStatus.DRAFT
                    and invoice.total_minor == 500
                )
            assert _jobs(queue_db) == []  # every job succeeded (successful jobs are deleted)
    finally:
        scheduler.close()


def test_a_dunning_retry_waits_for_its_time_and_is_queued_once(queue_db: str) -> None:
    scheduler = ProcrastinateScheduler(create_job_app(queue_db))
    try:
        at = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        scheduler.collect_payment("3c0f4a4e-5d1b-4a4b-9d3c-2b1a0f9e8d7c", 2, at=at)
        scheduler.collect_payment("3c0f4a4e-5d1b-4a4b-9d3c-2b1a0f9e8d7c", 2, at=at)
        with psycopg.connect(queue_db) as conn:
            rows = conn.execute(
                "SELECT task_name, status, scheduled_at, queueing_lock FROM procrastinate_jobs"
            ).fetchall()
        assert len(rows) == 1
        name, status, scheduled_at, lock = rows[0]
        assert (name, status, lock) == (
            "billing:collect_payment",
            "todo",
            "collect:3c0f4a4e-5d1b-4a4b-9d3c-2b1a0f9e8d7c",
        )
        assert abs((scheduled_at - at).total_seconds()) < 1
    finally:
        scheduler.close()


class _Job:
    def __init__(self, attempts: int) -> None:
        self.attempts = attempts


def test_only_transient_errors_are_retried_with_backoff() -> None:
    strategy = TransientErrors(max_attempts=3)
    assert strategy.get_retry_decision(exception=StoreError("db down"), job=_Job(0)) is not None  # type: ignore[arg-type]
    retryable = PaymentProviderError("stripe down", retryable=True)
    assert strategy.get_retry_decision(exception=retryable, job=_Job(2)) is not None  # type: ignore[arg-type]
    assert strategy.get_retry_decision(exception=retryable, job=_Job(3)) is None  # type: ignore[arg-type]
    refused = PaymentProviderError("bad request", retryable=False)
    assert strategy.get_retry_decision(exception=refused, job=_Job(0)) is None  # type: ignore[arg-type]
    assert strategy.get_retry_decision(exception=ValidationError("x", "y"), job=_Job(0)) is None  # type: ignore[arg-type]
