"""The usage audit trail on PostgreSQL: the embedded default (ClickHouse in production).

One row per snapshot in ``billing_audit_snapshots`` (append-only; a trigger refuses updates,
deletes and truncation), its samples as a JSON array of rows (fields in
:data:`~starform_core.billing.snapshots.SAMPLE_ROW` order), as received. Appending a snapshot id
again changes nothing (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from starform_adapters.postgres.billing.repository import BillingRepository
from starform_core.billing.snapshots import MAX_WINDOW, UsageSnapshot, sample_from_row
from starform_core.ports.billing import AuditedSnapshot

__all__ = ["PostgresUsageAuditTrail", "samples_json"]


_ENCODER = msgspec.json.Encoder()


def samples_json(snapshot: UsageSnapshot) -> str:
    """The ``samples`` column of a snapshot: its rows as one compact JSON array."""
    return _ENCODER.encode(snapshot.rows).decode()


class PostgresUsageAuditTrail(BillingRepository):
    """Every usage snapshot, as received, in PostgreSQL."""

    def append(
        self, snapshot: UsageSnapshot, *, received_at: dt.datetime, rejected: Mapping[str, str]
    ) -> None:
        """Record a snapshot once (idempotent by cluster and snapshot id)."""
        with self._one() as cur:
            cur.execute(
                "INSERT INTO billing_audit_snapshots (cluster_id, snapshot_id, window_start, window_end,"
                " received_at, agent, samples, rejected) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (cluster_id, snapshot_id) DO NOTHING",
                (
                    snapshot.cluster_id,
                    snapshot.snapshot_id,
                    snapshot.window_start,
                    snapshot.window_end,
                    received_at,
                    snapshot.agent,
                    samples_json(snapshot),
                    Jsonb(dict(rejected)),
                ),
            )

    def snapshots(
        self,
        *,
        start: dt.datetime,
        end: dt.datetime,
        cluster_id: str | None = None,
        workspace_id: str | None = None,
    ) -> Sequence[AuditedSnapshot]:
        """Snapshots overlapping ``[start, end)``, oldest window first."""
        query = (
            "SELECT cluster_id, snapshot_id, window_start, window_end, received_at, agent, samples, rejected"
            " FROM billing_audit_snapshots WHERE window_start < %s AND window_end > %s AND window_start >= %s"
        )
        params: list[Any] = [end, start, start - MAX_WINDOW]
        if cluster_id is not None:
            query += " AND cluster_id = %s"
            params.append(cluster_id)
        with self._one() as cur:
            records = cur.execute(
                query + " ORDER BY window_start, cluster_id, snapshot_id", params
            ).fetchall()
        out = []
        for r in records:
            samples = [sample_from_row(row) for row in r[6]]
            if workspace_id is not None:
                samples = [s for s in samples if s.tenant.workspace_id == workspace_id]
                if not samples:
                    continue
            keep = {s.uid for s in samples}
            snapshot = UsageSnapshot(r[0], r[1], r[2], r[3], samples, agent=r[5])
            rejected = {uid: reason for uid, reason in r[7].items() if uid in keep}
            out.append(AuditedSnapshot(snapshot, r[4], rejected))
        return out
