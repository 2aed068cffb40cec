"""The PostgreSQL usage ledger: ingestion equals the core's metering; tenancy checked; retries no-ops."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from importlib.resources import files

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from tests.billing.strategies import (
    CLUSTER,
    PLANS,
    PROJECT,
    SERVICES,
    WORKSPACE,
    PodSpec,
    ingestions,
    sample_of,
)
from tests.billing.world import make_tenant

from starform_adapters.postgres import migrate, open_pool
from starform_adapters.postgres.billing import PostgresBillingStore, PostgresUsageAuditTrail
from starform_core.billing import (
    BillingMonth,
    PlanTimeline,
    SampleKind,
    UsageSample,
    UsageSnapshot,
    meter,
    snapshot_digest,
)
from starform_core.errors import SnapshotConflictError
from starform_core.model.tenant import TenantKey
from starform_core.ports.billing import AuditedSnapshot, BuildUsage
from starform_testkit.postgres import fresh_database

POD = PodSpec(str(uuid.UUID(int=77)), SampleKind.POD, SERVICES[0], 250, 2**29, 0)
DB = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fixed_world(database_url: str) -> None:
    """The tenant the strategies use (fixed ids), on plan ``hobby`` since October."""
    _insert_fixed_world(database_url)


def _insert_fixed_world(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO regions (name) VALUES ('fra1') ON CONFLICT DO NOTHING")
        conn.execute(
            "INSERT INTO clusters (id, name, region, gateway_namespace, gateway_name, storage_class,"
            " agent_token_hash) VALUES (%s, 'fixed', 'fra1', 'gw', 'gw', 'sc', %s)",
            (CLUSTER, hashlib.sha256(b"fixed").digest()),
        )
        conn.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'fixed')", (WORKSPACE,))
        conn.execute(
            "INSERT INTO projects (id, workspace_id, cluster_id, name, tier)"
            " VALUES (%s, %s, %s, 'shop', 'hobby')",
            (PROJECT, WORKSPACE, CLUSTER),
        )
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, NULL) WHERE project_id = %s",
            (PLANS[0].start, PROJECT),
        )
        env = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO environments (id, project_id, name) VALUES (%s, %s, 'production')", (env, PROJECT)
        )
        for index, service_id in enumerate(SERVICES):
            conn.execute(
                "INSERT INTO services (id, project_id, environment_id, name, type, state, cpu_request,"
                " memory_request) VALUES (%s, %s, %s, %s, 'worker', 'active', '1', '1Gi')",
                (service_id, PROJECT, env, f"svc-{index}"),
            )


def _wipe(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE billing_snapshots, billing_coverage, billing_cluster_windows, billing_usage")


def _ingest(billing: PostgresBillingStore, snapshot: UsageSnapshot) -> None:
    billing.ingest(snapshot, digest=snapshot_digest(snapshot))


def _all_totals(billing: PostgresBillingStore) -> dict[object, object]:
    totals: dict[object, object] = {}
    for month in (BillingMonth(2026, 11), BillingMonth(2026, 12)):
        totals.update(billing.usage_totals(WORKSPACE, month))
    return totals


@DB
@given(case=ingestions(aligned=False))
def test_ingestion_in_any_order_with_retries_equals_the_cores_metering(
    case: tuple[list[UsageSnapshot], list[UsageSnapshot]],
    billing: PostgresBillingStore,
    database_url: str,
    fixed_world: None,
) -> None:
    assert _ingested_totals(billing, database_url, case) == _metered(case)


@DB
@given(case=ingestions())
def test_overlapping_windows_objects_that_come_and_go_equal_the_cores_metering(
    case: tuple[list[UsageSnapshot], list[UsageSnapshot]],
    billing: PostgresBillingStore,
    database_url: str,
    fixed_world: None,
) -> None:
    """Windows on a grid: repeats, overlaps, gaps and late arrivals (the per-object way) beside
    contiguous runs (the claims), objects missing from some snapshots."""
    assert _ingested_totals(billing, database_url, case) == _metered(case)


def _ingested_totals(
    billing: PostgresBillingStore, url: str, case: tuple[list[UsageSnapshot], list[UsageSnapshot]]
) -> dict[object, object]:
    _wipe(url)
    for snapshot in case[1]:
        _ingest(billing, snapshot)
    return _all_totals(billing)


def _metered(case: tuple[list[UsageSnapshot], list[UsageSnapshot]]) -> dict[object, object]:
    return dict(meter(case[0], PlanTimeline.of(PLANS)))


MUTANTS = {
    "coverage ignored": ("v_fast := NOT (v_known && v_window);", "v_fast := true;"),
    "absent objects keep their claims": (
        "FROM judged j WHERE NOT j.keeps",
        "FROM judged j WHERE NOT j.keeps AND j.t_from IS NOT NULL",
    ),
    "claims on late windows": ("AND v_latest THEN p_start END AS claim", "THEN p_start END AS claim"),
}


def _ingest_function() -> str:
    text = (files("starform_adapters.postgres") / "migrations" / "0006_billing.sql").read_text()
    start = text.index("CREATE FUNCTION billing_ingest(")
    return text[start : text.index("$fn$;", start) + len("$fn$;")]


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_the_property_catches_a_broken_ingest_function(mutant: str, pg_server: str) -> None:
    """The same property against a copy of the database whose billing_ingest has one rule
    broken: Hypothesis finds snapshots where its totals differ from the core's metering."""
    original, broken = MUTANTS[mutant]
    source = _ingest_function()
    assert original in source, "the mutant no longer matches the function"
    with fresh_database(pg_server, prefix="mutant") as url:
        migrate(url)
        _insert_fixed_world(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                source.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(original, broken)
            )
        pool = open_pool(url, max_size=2)
        try:
            store = PostgresBillingStore(pool)
            found = find(
                ingestions(),
                lambda case: _ingested_totals(store, url, case) != _metered(case),
                settings=settings(max_examples=300, phases=[Phase.generate], deadline=None, database=None),
            )
        finally:
            pool.close()
    assert found[0], "a counterexample has snapshots"


def test_a_retry_is_a_no_op_and_other_content_under_the_same_id_is_a_conflict(
    billing: PostgresBillingStore, database_url: str, fixed_world: None
) -> None:
    _wipe(database_url)
    pod = POD
    start = dt.datetime(2026, 11, 5, 10, tzinfo=dt.UTC)
    snapshot = UsageSnapshot(
        CLUSTER, "s-1", start, start + dt.timedelta(minutes=1), [sample_of(pod, _billable(pod))]
    )
    first = billing.ingest(snapshot, digest=snapshot_digest(snapshot))
    again = billing.ingest(snapshot, digest=snapshot_digest(snapshot))
    assert (first.duplicate, first.billed) == (False, 1)
    assert (again.duplicate, again.billed, again.rows_written) == (True, 1, 0)
    # the de-duplication record, the cluster's windows, the new object's coverage, one running total
    assert first.rows_written == 4
    other = UsageSnapshot(CLUSTER, "s-1", start, start + dt.timedelta(seconds=59), snapshot.samples)
    with pytest.raises(SnapshotConflictError):
        billing.ingest(other, digest=snapshot_digest(other))
    (quantities,) = billing.usage_totals(WORKSPACE, BillingMonth(2026, 11)).values()
    assert (quantities.pod_us or quantities.volume_us) == 60 * 10**6


def _billable(pod: PodSpec) -> str:
    return "Running" if pod.kind is SampleKind.POD else "Bound"


def test_samples_of_other_clusters_workspaces_or_services_are_refused(
    billing: PostgresBillingStore, database_url: str, fixed_world: None
) -> None:
    other = make_tenant(database_url)
    start = dt.datetime(2026, 11, 6, 10, tzinfo=dt.UTC)

    def sample(uid: int, tenant: TenantKey) -> UsageSample:
        return UsageSample(
            SampleKind.POD, str(uuid.UUID(int=uid)), tenant, "Running", cpu_millis=100, memory_bytes=10
        )

    mine = TenantKey(WORKSPACE, PROJECT, "production", SERVICES[0])
    samples = [
        sample(101, mine),
        sample(102, TenantKey(other.workspace_id, other.project_id, "production", other.services[0])),
        sample(103, TenantKey(other.workspace_id, PROJECT, "production", SERVICES[0])),
        sample(104, TenantKey(WORKSPACE, PROJECT, "production", other.services[0])),
        sample(105, TenantKey(WORKSPACE, PROJECT, "staging", SERVICES[0])),
        sample(106, TenantKey(WORKSPACE, str(uuid.uuid4()), "production", SERVICES[0])),
        sample(107, TenantKey(WORKSPACE, PROJECT, "production", str(uuid.uuid4()))),
    ]
    snapshot = UsageSnapshot(CLUSTER, "tenancy", start, start + dt.timedelta(minutes=1), samples)
    result = billing.ingest(snapshot, digest=snapshot_digest(snapshot))
    assert result.billed == 2  # its own service, and a service deleted since (its project is here)
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, "project_not_on_cluster"),
        (2, "workspace_mismatch"),
        (3, "service_mismatch"),
        (4, "service_mismatch"),
        (5, "unknown_project"),
    ]
    assert billing.usage_totals(other.workspace_id, BillingMonth(2026, 11)) == {}


def test_build_minutes_are_recorded_once_and_rated_on_the_tier_in_force(
    billing: PostgresBillingStore, fixed_world: None
) -> None:
    tenant = TenantKey(WORKSPACE, PROJECT, "production", SERVICES[0])
    start = dt.datetime(2026, 11, 7, 10, tzinfo=dt.UTC)
    build = BuildUsage("build-1", tenant, start, start + dt.timedelta(seconds=61))
    assert billing.record_build(build) is True
    assert billing.record_build(build) is False
    statement = billing.statement(WORKSPACE, BillingMonth(2026, 11))
    assert [(b.minutes, b.tier.value) for b in statement.builds] == [(2, "hobby")]


def test_purge_forgets_old_deduplication_state_only(
    billing: PostgresBillingStore, database_url: str, fixed_world: None
) -> None:
    _wipe(database_url)
    pod = POD
    for day in (1, 20):
        start = dt.datetime(2026, 11, day, 10, tzinfo=dt.UTC)
        snap = UsageSnapshot(
            CLUSTER, f"d{day}", start, start + dt.timedelta(minutes=1), [sample_of(pod, _billable(pod))]
        )
        _ingest(billing, snap)
    removed = billing.purge(before=dt.datetime(2026, 11, 10, tzinfo=dt.UTC))
    assert removed == 1  # the day-1 record; the object's coverage was touched on day 20
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT snapshot_id FROM billing_snapshots").fetchall() == [("d20",)]


def test_with_the_audit_trail_one_statement_bills_and_records_a_snapshot(
    database_url: str, fixed_world: None
) -> None:
    """The embedded default: the totals and the audit row (refused samples, first receipt) in
    one transaction; a retry changes neither; a conflict writes neither."""
    _wipe(database_url)
    pool = open_pool(database_url, max_size=2)
    try:
        ledger = PostgresBillingStore(pool, with_audit_trail=True)
        audit = PostgresUsageAuditTrail(pool)
        start = dt.datetime(2026, 11, 8, 10, tzinfo=dt.UTC)
        mine = TenantKey(WORKSPACE, PROJECT, "production", SERVICES[0])
        foreign = TenantKey(WORKSPACE, str(uuid.uuid4()), "production", SERVICES[0])
        samples = [
            UsageSample(SampleKind.POD, str(uuid.UUID(int=n)), tenant, "Running", cpu_millis=100)
            for n, tenant in ((201, mine), (202, foreign))
        ]
        snapshot = UsageSnapshot(CLUSTER, "audited", start, start + dt.timedelta(minutes=1), samples)
        first = ledger.ingest(snapshot, digest=snapshot_digest(snapshot))
        again = ledger.ingest(snapshot, digest=snapshot_digest(snapshot))
        assert (first.audited, first.duplicate, first.billed) == (True, False, 1)
        assert first.rows_written == 5, "the ledger's four rows and the audit row"
        assert (again.audited, again.duplicate, again.rows_written) == (True, True, 0)
        window = {"start": start, "end": start + dt.timedelta(minutes=1), "cluster_id": CLUSTER}
        (recorded,) = audit.snapshots(**window)
        assert recorded == AuditedSnapshot(snapshot, first.received_at, {samples[1].uid: "unknown_project"})
        other = UsageSnapshot(CLUSTER, "audited", start, start + dt.timedelta(seconds=30), samples)
        with pytest.raises(SnapshotConflictError):
            ledger.ingest(other, digest=snapshot_digest(other))
        assert audit.snapshots(**window) == [recorded]
    finally:
        pool.close()


def test_audit_rows_are_stored_out_of_line_uncompressed(
    billing: PostgresBillingStore, database_url: str
) -> None:
    """pglz cost about 9 ms of PostgreSQL's CPU per 1,000-pod snapshot for a 30 % saving
    (migration 0011): the samples column is EXTERNAL, so a stored row is not compressed."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        (storage,) = conn.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'billing_audit_snapshots'::regclass"
            " AND attname = 'samples'"
        ).fetchone() or ("?",)
        assert storage == "e"
        rows = json.dumps([[str(uuid.uuid4()), "pod"] for _ in range(2000)])
        start = dt.datetime(2026, 11, 9, 10, tzinfo=dt.UTC)
        conn.execute(
            "INSERT INTO billing_audit_snapshots (cluster_id, snapshot_id, window_start, window_end,"
            " received_at, samples) VALUES (%s, 'uncompressed', %s, %s, %s, %s::json)",
            (CLUSTER, start, start + dt.timedelta(minutes=1), start, rows),
        )
        (method,) = conn.execute(
            "SELECT pg_column_compression(samples) FROM billing_audit_snapshots"
            " WHERE snapshot_id = 'uncompressed'"
        ).fetchone() or ("?",)
        assert method is None, "stored as is"
