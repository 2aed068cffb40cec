"""``starbase billing ...`` and ``starbase worker`` against a real database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from tests.billing.harness import Clock
from tests.billing.world import make_tenant

from starform_adapters.postgres import migrate, open_pool
from starform_apps.starbase.billing import BillingConfig
from starform_apps.starbase.billing.wiring import open_billing
from starform_apps.starbase.cli import main
from starform_core.billing import SampleKind, UsageSample, UsageSnapshot
from starform_core.model.tenant import TenantKey
from starform_testkit.postgres import fresh_database


@pytest.fixture
def cli_db(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server, prefix="starform_billing_cli") as url:
        migrate(url)
        yield url


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env={"DATABASE_URL": url})
    return result.exit_code, result.output


def test_close_month_refuses_bad_or_unfinished_months(cli_db: str) -> None:
    code, out = _run(cli_db, "billing", "close-month", "--month", "2026-13")
    assert code == 2 and "the month must be between 01 and 12" in out
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).strftime("%Y-%m")
    code, out = _run(cli_db, "billing", "close-month", "--month", future)
    assert code == 1 and "is not over yet" in out


def test_close_month_without_a_provider_keeps_drafts_and_is_idempotent(cli_db: str) -> None:
    tenant = make_tenant(cli_db, tier="hobby")
    code, out = _run(cli_db, "billing", "close-month", "--month", "2026-11")
    assert code == 0, out
    (line,) = [x for x in out.splitlines() if x.startswith(tenant.workspace_id)]
    assert line.endswith("5.00 usd draft")
    invoice_id = line.split()[2]
    code, again = _run(cli_db, "billing", "close-month", "--month", "2026-11")
    assert code == 0 and invoice_id in again  # a draft is resumed, never duplicated
    code, out = _run(
        cli_db, "billing", "credit-note", "--invoice", invoice_id, "--amount", "lots", "--reason", "x"
    )
    assert code == 2 and "--amount" in out
    code, out = _run(
        cli_db, "billing", "credit-note", "--invoice", invoice_id, "--amount", "1.00", "--reason", "x"
    )
    assert code == 1 and "draft invoice cannot take a credit note" in out


def test_prices_and_verify(cli_db: str) -> None:
    code, out = _run(cli_db, "billing", "prices")
    assert code == 0 and "price sheet 2026-01 (from 2026-01, usd)" in out and "build minute 0.05" in out
    tenant = make_tenant(cli_db, services=1)
    pool = open_pool(cli_db, max_size=2)
    try:
        clock = Clock(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
        billing = open_billing(pool, BillingConfig(), registry=CollectorRegistry(), clock=clock)
        start = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
        sample = UsageSample(
            SampleKind.POD,
            str(uuid.uuid4()),
            TenantKey(tenant.workspace_id, tenant.project_id, tenant.environment, tenant.services[0]),
            "Running",
            cpu_millis=100,
            memory_bytes=1,
        )
        billing.ingestion.ingest(
            UsageSnapshot(tenant.cluster_id, "v1", start, start + dt.timedelta(minutes=1), [sample])
        )
    finally:
        pool.close()
    code, out = _run(cli_db, "billing", "verify", "--month", "2026-11", "--workspace", tenant.workspace_id)
    assert code == 0 and "1 audited snapshot(s), 1 running total(s)" in out and "match" in out
    with open_pool(cli_db, max_size=1).connection() as conn:
        conn.execute(
            "UPDATE billing_usage SET pod_us = pod_us + 1 WHERE workspace_id = %s", (tenant.workspace_id,)
        )
    code, out = _run(cli_db, "billing", "verify", "--month", "2026-11", "--workspace", tenant.workspace_id)
    assert code == 1 and "MISMATCH" in out


def test_the_worker_runs_due_jobs_and_exits_with_once(cli_db: str) -> None:
    code, out = _run(cli_db, "worker", "--once")
    assert code == 0, out
    code, out = _run(cli_db, "migrate")
    # The worker applied both schemas: no migration and no job-queue file is left to apply.
    assert code == 0 and out.splitlines()[0] == "schema is up to date"
    assert "job queue" not in out
