"""The usage audit trail on ClickHouse (``clickhouse-connect``).

One row per sample, plus one ``kind = 'snapshot'`` row per snapshot (so a snapshot without
samples is recorded too), in a ``ReplacingMergeTree`` ordered by ``(cluster_id, snapshot_id,
kind, uid)``: a snapshot appended again (a retried delivery) writes rows with the same sorting
key and identical content, which the engine collapses when it merges parts; reads use ``FINAL``
so an unmerged duplicate is never seen. Partitioned by month of the window, with a bloom-filter
index on ``workspace_id`` for per-workspace audits.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from starform_core.billing.snapshots import MAX_WINDOW, SAMPLE_ROW, SampleKind, UsageSample, UsageSnapshot
from starform_core.errors import UsageAuditError
from starform_core.model.tenant import TenantKey
from starform_core.ports.billing import AuditedSnapshot

__all__ = ["ClickHouseUsageAuditTrail"]

_NIL = uuid.UUID(int=0)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_HEAD = ("cluster_id", "snapshot_id", "window_start", "window_end", "received_at", "agent", "sample_index")
COLUMNS = (*_HEAD, *SAMPLE_ROW, "rejected")
"""The table's columns: the snapshot's, then a sample's (as in the core's ``SAMPLE_ROW``)."""
_DDL = """
CREATE TABLE IF NOT EXISTS {database}.{table} (
    cluster_id    UUID,
    snapshot_id   String,
    window_start  DateTime64(6, 'UTC'),
    window_end    DateTime64(6, 'UTC'),
    received_at   DateTime64(6, 'UTC'),
    agent         String,
    sample_index  UInt32,
    kind          LowCardinality(String),
    uid           UUID,
    workspace_id  UUID,
    project_id    UUID,
    environment   LowCardinality(String),
    service_id    UUID,
    phase         LowCardinality(String),
    cpu_millis    UInt64,
    memory_bytes  UInt64,
    storage_bytes UInt64,
    running_since Nullable(DateTime64(6, 'UTC')),
    running_until Nullable(DateTime64(6, 'UTC')),
    rejected      LowCardinality(String),
    INDEX workspace_bloom workspace_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (cluster_id, snapshot_id, kind, uid)
"""


_SELECT = (
    "SELECT {columns} FROM {database}.{table} FINAL WHERE {where}"
    " ORDER BY window_start, cluster_id, snapshot_id, sample_index"
)


def _utc(value: dt.datetime) -> dt.datetime:
    """ClickHouse answers ``DateTime64('UTC')`` values naive on some transports; they are UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _maybe_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _utc(value)


def _rows(snapshot: UsageSnapshot, received_at: dt.datetime, rejected: Mapping[str, str]) -> list[list[Any]]:
    head = [
        uuid.UUID(snapshot.cluster_id),
        snapshot.snapshot_id,
        snapshot.window_start,
        snapshot.window_end,
        received_at,
        snapshot.agent,
    ]
    rows = [[*head, 0, _NIL, "snapshot", _NIL, _NIL, "", _NIL, "", 0, 0, 0, None, None, ""]]
    for index, s in enumerate(snapshot.samples, start=1):
        tenant = s.tenant
        rows.append(
            [
                *head,
                index,
                uuid.UUID(s.uid),
                s.kind.value,
                uuid.UUID(tenant.workspace_id),
                uuid.UUID(tenant.project_id),
                tenant.environment,
                uuid.UUID(tenant.service_id),
                s.phase,
                s.cpu_millis,
                s.memory_bytes,
                s.storage_bytes,
                s.running_since,
                s.running_until,
                rejected.get(s.uid, ""),
            ]
        )
    return rows


def _sample(r: Sequence[Any]) -> UsageSample:
    return UsageSample(
        SampleKind(r[8]),
        str(r[7]),
        TenantKey(str(r[9]), str(r[10]), r[11], str(r[12])),
        r[13],
        cpu_millis=r[14],
        memory_bytes=r[15],
        storage_bytes=r[16],
        running_since=_maybe_utc(r[17]),
        running_until=_maybe_utc(r[18]),
    )


class ClickHouseUsageAuditTrail:
    """Every usage snapshot, one row per sample, in a de-duplicating MergeTree table."""

    def __init__(self, client: Client, *, database: str = "starform", table: str = "usage_samples") -> None:
        for name in (database, table):
            if not _IDENTIFIER.match(name):
                raise UsageAuditError(f"{name!r} is not a ClickHouse identifier")
        self._client = client
        self._database = database
        self._table = table

    @property
    def ddl(self) -> str:
        """The table's DDL (``CREATE TABLE IF NOT EXISTS``)."""
        return _DDL.format(database=self._database, table=self._table)

    def ensure_schema(self) -> None:
        """Create the database and the table if they do not exist."""
        try:
            self._client.command(f"CREATE DATABASE IF NOT EXISTS {self._database}")
            self._client.command(self.ddl)
        except ClickHouseError as exc:
            raise UsageAuditError(f"could not create the audit table: {type(exc).__name__}") from exc

    def append(
        self, snapshot: UsageSnapshot, *, received_at: dt.datetime, rejected: Mapping[str, str]
    ) -> None:
        """Insert the snapshot's rows (idempotent: the engine collapses a re-sent snapshot)."""
        try:
            self._client.insert(
                self._table,
                _rows(snapshot, received_at, rejected),
                column_names=list(COLUMNS),
                database=self._database,
            )
        except ClickHouseError as exc:
            raise UsageAuditError(
                f"could not append snapshot {snapshot.snapshot_id}: {type(exc).__name__}"
            ) from exc

    def snapshots(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        cluster_id: str | None = None,
        workspace_id: str | None = None,
    ) -> Sequence[AuditedSnapshot]:
        """Snapshots whose window overlaps ``[start, end)``, oldest first (read with ``FINAL``)."""
        where = ["window_start < {end:DateTime64(6, 'UTC')}", "window_end > {start:DateTime64(6, 'UTC')}"]
        where.append("window_start >= {earliest:DateTime64(6, 'UTC')}")
        parameters: dict[str, Any] = {"start": start, "end": end, "earliest": start - MAX_WINDOW}
        if cluster_id is not None:
            where.append("cluster_id = {cluster:UUID}")
            parameters["cluster"] = cluster_id
        if workspace_id is not None:
            where.append("(kind = 'snapshot' OR workspace_id = {workspace:UUID})")
            parameters["workspace"] = workspace_id
        # Identifiers were checked against _IDENTIFIER; every value is a bound server-side parameter.
        query = _SELECT.format(
            columns=", ".join(COLUMNS), database=self._database, table=self._table, where=" AND ".join(where)
        )
        try:
            rows = self._client.query(query, parameters=parameters).result_rows
        except ClickHouseError as exc:
            raise UsageAuditError(f"could not read the audit trail: {type(exc).__name__}") from exc
        return _group(rows, keep_empty=workspace_id is None)


def _group(rows: Sequence[Sequence[Any]], *, keep_empty: bool) -> list[AuditedSnapshot]:
    grouped: dict[tuple[str, str], tuple[Sequence[Any], list[UsageSample], dict[str, str]]] = {}
    for r in rows:
        key = (str(r[0]), r[1])
        if r[8] == "snapshot":
            grouped.setdefault(key, (r, [], {}))
            continue
        _, samples, rejected = grouped.setdefault(key, (r, [], {}))
        sample = _sample(r)
        samples.append(sample)
        if r[19]:
            rejected[sample.uid] = r[19]
    out = []
    for (cluster, snapshot_id), (head, samples, rejected) in grouped.items():
        if not samples and not keep_empty:
            continue
        snapshot = UsageSnapshot(cluster, snapshot_id, _utc(head[2]), _utc(head[3]), samples, agent=head[5])
        out.append(AuditedSnapshot(snapshot, _utc(head[4]), rejected))
    return out
