"""What agents read (version, rows, token) and report (status, events), and a cluster's epochs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from starform_adapters.postgres.agent_reports import (
    AgentReport,
    known_report,
    lock_cluster_version,
    record_refusal,
    store_report,
)
from starform_adapters.postgres.queries import load_cluster, load_rows
from starform_adapters.postgres.repository import Cursor, Repository
from starform_core.access import Actor
from starform_core.errors import AgentReportRefusedError, StoreNotFoundError, ValidationError
from starform_core.payload.rows import ClusterRows, RowMemo
from starform_core.ports.adoptions import ObjectReport
from starform_core.ports.reconcile import MAX_SERVED_PER_REPORT
from starform_core.records import AgentView, EventRecord, ObservedStatus
from starform_core.reporting import judge_report, next_epoch

__all__ = ["AgentRepository"]


class AgentRepository(Repository):
    """The agent-facing part of the store, and the epochs its reports are judged by."""

    def cluster_generation(self, cluster_id: str) -> int:
        """The cluster's desired-state generation (one indexed read)."""
        return self.cluster_version(cluster_id)[1]

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        """The cluster's ``(epoch, generation)`` (one indexed read)."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT epoch, generation FROM clusters WHERE id = %s", (cluster_id,)
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return int(record[0]), int(record[1])

    def agent_view(self, cluster_id: str) -> AgentView:
        """Version, token hash and the oldest pending reconcile requests, in one indexed read."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT c.epoch, c.generation, c.agent_token_hash, ARRAY(SELECT r.id::text FROM"
                " reconcile_requests r WHERE r.cluster_id = c.id AND r.served_at IS NULL"
                " ORDER BY r.requested_at, r.id LIMIT %s) FROM clusters c WHERE c.id = %s",
                (MAX_SERVED_PER_REPORT, cluster_id),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return AgentView(
            epoch=int(record[0]),
            generation=int(record[1]),
            token_hash=bytes(record[2]),
            pending_requests=tuple(record[3]),
        )

    def cluster_rows(self, cluster_id: str, *, memo: RowMemo | None = None) -> ClusterRows:
        """Every row of the cluster's desired state, in one REPEATABLE READ snapshot (``memo``:
        the rows decoded by the previous read, reused when their records did not change)."""
        with self._tx() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cluster = load_cluster(cur, cluster_id)
            return load_rows(
                cur, cluster, scope="cluster", scope_id=cluster_id, decrypt=self._cipher.open, memo=memo
            )

    def cluster_token_hash(self, cluster_id: str) -> bytes:
        """The SHA-256 of the cluster's agent token."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT agent_token_hash FROM clusters WHERE id = %s", (cluster_id,)
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return bytes(record[0])

    def record_status(
        self,
        cluster_id: str,
        *,
        applied_generation: int,
        statuses: Sequence[ObservedStatus],
        agent: str = "",
        report_key: str | None = None,
        epoch: int | None = None,
        attempt: Mapping[str, Any] | None = None,
        reported_at: datetime | None = None,
        objects: Sequence[ObjectReport] | None = None,
    ) -> str:
        """Store an agent report: the generation applied, the last attempt, each service's status,
        the managed objects by UID (a recreated one gets a ``ResourceDeletedExternally`` event).

        A re-sent ``report_key`` returns the first report's id. Statuses of services that no
        longer exist (deleted since the agent's pull) are skipped; a service of another cluster is
        refused. A report Starbase does not believe is recorded as refused, then raised.
        """
        report = AgentReport(
            applied_generation=applied_generation,
            statuses=tuple(statuses),
            agent=agent,
            report_key=report_key,
            epoch=epoch,
            attempt=attempt,
            reported_at=reported_at,
            objects=None if objects is None else tuple(objects),
        )
        with self._tx() as cur:
            cluster_epoch, desired = lock_cluster_version(cur, cluster_id)
            known = known_report(cur, cluster_id, report_key)
            if known is not None:
                return known  # re-sent after a lost answer: stored once
            refusal = judge_report(
                cluster_epoch=cluster_epoch,
                desired_generation=desired,
                epoch=epoch,
                applied_generation=applied_generation,
                attempted_generation=report.attempted_generation,
            )
            if refusal is None:
                return store_report(cur, cluster_id, report)
            record_refusal(cur, cluster_id, report, refusal)
        raise AgentReportRefusedError(refusal.reason.value, refusal.detail)

    def append_events(self, cluster_id: str, events: Sequence[EventRecord]) -> int:
        """Append a batch; ids already stored for the cluster are skipped. Returns new ones."""
        if not events:
            return 0
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM clusters WHERE id = %s", (cluster_id,)).fetchone() is None:
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            ids = sorted({e.service_id for e in events if e.service_id is not None})
            foreign = cur.execute(
                "SELECT s.id FROM services s JOIN projects p ON p.id = s.project_id"
                " WHERE s.id = ANY(%s::uuid[]) AND p.cluster_id <> %s",
                (ids, cluster_id),
            ).fetchall()
            if foreign:
                raise ValidationError("events.service_id", "names a service of another cluster")
            cur.execute(
                "INSERT INTO events (event_id, cluster_id, service_id, type, reason, message, data,"
                " occurred_at) SELECT e.event_id, %s, e.service_id::uuid, e.type, e.reason,"
                " e.message, e.data::jsonb, e.occurred_at FROM unnest("
                "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
                " %s::timestamptz[]) AS e(event_id, service_id, type, reason, message, data,"
                " occurred_at) ON CONFLICT (cluster_id, event_id) DO NOTHING RETURNING event_id",
                (
                    cluster_id,
                    [e.event_id for e in events],
                    [e.service_id for e in events],
                    [e.type for e in events],
                    [e.reason for e in events],
                    [e.message for e in events],
                    [json.dumps(dict(e.data)) for e in events],
                    [e.occurred_at for e in events],
                ),
            )
            new = {str(r[0]) for r in cur.fetchall()}
            for event in events:
                if event.event_id in new:
                    self._after_event(cur, cluster_id, event)
            return len(new)

    def _after_event(self, cur: Cursor, cluster_id: str, event: EventRecord) -> None:
        """What a newly stored event changes besides the event log (nothing here; see Adopt)."""

    def new_epoch(self, cluster_id: str, *, actor: Actor) -> int:
        """Move the cluster to a new epoch; forget the applied generation of the old one."""
        with self._tx() as cur:
            record = cur.execute(
                "SELECT c.epoch, c.generation, coalesce(a.highest_epoch_seen, 0),"
                " (floor(extract(epoch FROM clock_timestamp()) * 1000))::bigint"
                " FROM clusters c LEFT JOIN agent_state a ON a.cluster_id = c.id"
                " WHERE c.id = %s FOR UPDATE OF c",
                (cluster_id,),
            ).fetchone()
            if record is None:
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            current, generation, highest, now_millis = (int(value) for value in record)
            epoch = next_epoch(current=current, highest_reported=highest, now_millis=now_millis)
            cur.execute(
                "UPDATE clusters SET epoch = %s, last_applied_generation = NULL, last_applied_at = NULL,"
                " last_applied_report_id = NULL WHERE id = %s",
                (epoch, cluster_id),
            )
            self._audit(
                cur,
                actor,
                "cluster.new_epoch",
                "cluster",
                cluster_id,
                cluster_id=cluster_id,
                generation=generation,
                before={"epoch": current},
                after={"epoch": epoch},
            )
        return epoch
