"""The usage audit trail port: one contract, run on PostgreSQL and on ClickHouse (embedded chDB engine).

The ClickHouse adapter runs unchanged: ``clickhouse-connect``'s chDB backend executes the
adapter's DDL and queries (Native format, server-side parameters, ``FINAL``) in a real
ClickHouse engine in this process.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from collections.abc import Iterator

import clickhouse_connect
import psycopg
import pytest
from clickhouse_connect.driver.client import Client

from starform_adapters.clickhouse import ClickHouseUsageAuditTrail
from starform_adapters.postgres import migrate, open_pool
from starform_adapters.postgres.billing import PostgresUsageAuditTrail
from starform_core.billing import SampleKind, UsageSample, UsageSnapshot
from starform_core.errors import UsageAuditError
from starform_core.model.tenant import TenantKey
from starform_core.ports.billing import UsageAuditTrail
from starform_testkit.postgres import fresh_database

T0 = dt.datetime(2026, 11, 12, 9, 30, 0, 123456, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2026, 11, 12, 9, 31, 2, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def chdb_client() -> Iterator[Client]:
    """A clickhouse-connect client on an embedded chDB engine (one engine per process)."""
    with tempfile.TemporaryDirectory(prefix="starform-chdb-") as path:
        client = clickhouse_connect.get_client(interface="chdb", path=path)
        yield client
        client.close()


@pytest.fixture(params=["postgres", "clickhouse"])
def trail(request: pytest.FixtureRequest, pg_server: str) -> Iterator[UsageAuditTrail]:
    """A fresh, empty audit trail of each adapter."""
    if request.param == "postgres":
        with fresh_database(pg_server, prefix="starform_audit") as url:
            migrate(url)
            pool = open_pool(url, max_size=2)
            trail: UsageAuditTrail = PostgresUsageAuditTrail(pool)
            request.node.database_url = url
            yield trail
            pool.close()
        return
    client: Client = request.getfixturevalue("chdb_client")
    database = f"audit_{uuid.uuid4().hex[:12]}"
    adapter = ClickHouseUsageAuditTrail(client, database=database)
    adapter.ensure_schema()
    request.node.clickhouse = (client, database)
    yield adapter
    client.command(f"DROP DATABASE IF EXISTS {database}")


def _tenant(workspace: str | None = None) -> TenantKey:
    return TenantKey(workspace or str(uuid.uuid4()), str(uuid.uuid4()), "production", str(uuid.uuid4()))


def _snapshot(
    cluster: str, snapshot_id: str, start: dt.datetime, samples: list[UsageSample]
) -> UsageSnapshot:
    return UsageSnapshot(
        cluster, snapshot_id, start, start + dt.timedelta(seconds=60), samples, agent="shuttle/1"
    )


def _pod(tenant: TenantKey, **times: dt.datetime) -> UsageSample:
    return UsageSample(
        SampleKind.POD, str(uuid.uuid4()), tenant, "Running", cpu_millis=250, memory_bytes=2**29, **times
    )


def _volume(tenant: TenantKey) -> UsageSample:
    return UsageSample(SampleKind.VOLUME, str(uuid.uuid4()), tenant, "Bound", storage_bytes=10 * 2**30)


def _key(snapshot: UsageSnapshot) -> tuple[object, ...]:
    return (
        snapshot.cluster_id,
        snapshot.snapshot_id,
        snapshot.window_start,
        snapshot.window_end,
        snapshot.agent,
    )


def test_a_snapshot_reads_back_exactly_as_appended(trail: UsageAuditTrail) -> None:
    cluster, tenant = str(uuid.uuid4()), _tenant()
    samples = [
        _pod(tenant, running_since=T0 + dt.timedelta(seconds=7, microseconds=1)),
        _volume(tenant),
        _pod(tenant),
    ]
    snapshot = _snapshot(cluster, "s-1", T0, samples)
    trail.append(snapshot, received_at=RECEIVED, rejected={samples[2].uid: "project_not_on_cluster"})
    (got,) = trail.snapshots(start=T0, end=T0 + dt.timedelta(minutes=1))
    assert _key(got.snapshot) == _key(snapshot)
    assert sorted(got.snapshot.samples, key=lambda s: s.uid) == sorted(samples, key=lambda s: s.uid)
    assert got.received_at == RECEIVED
    assert got.rejected == {samples[2].uid: "project_not_on_cluster"}


def test_appending_the_same_snapshot_again_records_it_once(trail: UsageAuditTrail) -> None:
    cluster, tenant = str(uuid.uuid4()), _tenant()
    snapshot = _snapshot(cluster, "s-1", T0, [_pod(tenant), _pod(tenant)])
    for _ in range(3):
        trail.append(snapshot, received_at=RECEIVED, rejected={})
    (got,) = trail.snapshots(start=T0, end=T0 + dt.timedelta(hours=1))
    assert len(got.snapshot.samples) == 2


def test_reads_return_overlapping_windows_oldest_first_and_filter_by_cluster(trail: UsageAuditTrail) -> None:
    a, b, tenant = str(uuid.uuid4()), str(uuid.uuid4()), _tenant()
    for index, offset in enumerate([0, 60, 120, 600]):
        start = T0 + dt.timedelta(seconds=offset)
        trail.append(_snapshot(a, f"a-{index}", start, [_pod(tenant)]), received_at=RECEIVED, rejected={})
    trail.append(
        _snapshot(b, "b-0", T0 + dt.timedelta(seconds=30), [_pod(tenant)]), received_at=RECEIVED, rejected={}
    )
    window = {"start": T0 + dt.timedelta(seconds=90), "end": T0 + dt.timedelta(seconds=150)}
    assert [s.snapshot.snapshot_id for s in trail.snapshots(**window)] == ["a-1", "a-2"]
    everything = trail.snapshots(start=T0, end=T0 + dt.timedelta(hours=1))
    assert [s.snapshot.snapshot_id for s in everything] == ["a-0", "b-0", "a-1", "a-2", "a-3"]
    assert [
        s.snapshot.snapshot_id
        for s in trail.snapshots(start=T0, end=T0 + dt.timedelta(hours=1), cluster_id=b)
    ] == ["b-0"]


def test_a_workspace_filter_keeps_only_its_samples(trail: UsageAuditTrail) -> None:
    cluster, mine, theirs = str(uuid.uuid4()), _tenant(), _tenant()
    own = _pod(mine)
    trail.append(_snapshot(cluster, "mixed", T0, [own, _pod(theirs)]), received_at=RECEIVED, rejected={})
    trail.append(
        _snapshot(cluster, "other", T0 + dt.timedelta(minutes=1), [_pod(theirs)]),
        received_at=RECEIVED,
        rejected={},
    )
    got = trail.snapshots(start=T0, end=T0 + dt.timedelta(hours=1), workspace_id=mine.workspace_id)
    assert [(s.snapshot.snapshot_id, s.snapshot.samples) for s in got] == [("mixed", (own,))]


def test_an_empty_snapshot_is_recorded_too(trail: UsageAuditTrail) -> None:
    cluster = str(uuid.uuid4())
    trail.append(_snapshot(cluster, "idle", T0, []), received_at=RECEIVED, rejected={})
    (got,) = trail.snapshots(start=T0, end=T0 + dt.timedelta(minutes=5))
    assert got.snapshot.samples == ()
    assert trail.snapshots(start=T0, end=T0 + dt.timedelta(minutes=5), workspace_id=str(uuid.uuid4())) == []


def test_the_trail_cannot_be_rewritten(trail: UsageAuditTrail, request: pytest.FixtureRequest) -> None:
    """PostgreSQL refuses updates and deletes; ClickHouse's engine collapses re-sent rows on merge."""
    cluster, tenant = str(uuid.uuid4()), _tenant()
    snapshot = _snapshot(cluster, "s-1", T0, [_pod(tenant)])
    trail.append(snapshot, received_at=RECEIVED, rejected={})
    trail.append(snapshot, received_at=RECEIVED, rejected={})
    if isinstance(trail, PostgresUsageAuditTrail):
        with (
            psycopg.connect(request.node.database_url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("DELETE FROM billing_audit_snapshots")
        return
    client, database = request.node.clickhouse
    assert client.query(f"SELECT count() FROM {database}.usage_samples").result_rows[0][0] == 4
    client.command(f"OPTIMIZE TABLE {database}.usage_samples FINAL")
    assert client.query(f"SELECT count() FROM {database}.usage_samples").result_rows[0][0] == 2
    engine = client.query(
        "SELECT engine FROM system.tables WHERE database = {d:String} AND name = 'usage_samples'",
        parameters={"d": database},
    ).result_rows[0][0]
    assert engine == "ReplacingMergeTree"


def test_the_clickhouse_adapter_refuses_bad_identifiers_and_reports_engine_errors(
    chdb_client: Client,
) -> None:
    with pytest.raises(UsageAuditError, match="identifier"):
        ClickHouseUsageAuditTrail(chdb_client, database="x; DROP")
    missing = ClickHouseUsageAuditTrail(chdb_client, database=f"missing_{uuid.uuid4().hex[:8]}")
    with pytest.raises(UsageAuditError, match="could not read"):
        missing.snapshots(start=T0, end=T0 + dt.timedelta(minutes=1))
