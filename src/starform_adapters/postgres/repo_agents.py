"""What agents read (generation, rows) and report (status, events); dashboard reads of both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from psycopg.types.json import Jsonb

from starform_adapters.postgres.queries import load_cluster, load_rows
from starform_adapters.postgres.repository import Repository
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.payload.rows import ClusterRows
from starform_core.records import AuditEntry, EventRecord, EventsPage, ObservedStatus

__all__ = ["AgentRepository"]


class AgentRepository(Repository):
    """The agent-facing half of the store."""

    def cluster_generation(self, cluster_id: str) -> int:
        """The cluster's desired-state generation (one indexed read)."""
        with self._read() as cur:
            record = cur.execute("SELECT generation FROM clusters WHERE id = %s", (cluster_id,)).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return int(record[0])

    def cluster_rows(self, cluster_id: str) -> ClusterRows:
        """Every row of the cluster's desired state, in one REPEATABLE READ snapshot."""
        with self._tx() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cluster = load_cluster(cur, cluster_id)
            return load_rows(cur, cluster, scope="cluster", scope_id=cluster_id, opener=self._cipher.open)

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
    ) -> str:
        """Store an agent report: the generation applied and each service's observed status.

        Statuses of services that no longer exist (deleted since the agent's pull) are skipped;
        a service of another cluster is refused.
        """
        report_id = str(uuid.uuid4())
        with self._tx() as cur:
            record = cur.execute(
                "SELECT generation FROM clusters WHERE id = %s FOR NO KEY UPDATE", (cluster_id,)
            ).fetchone()
            if record is None:
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            if applied_generation > int(record[0]):
                raise StoreConflictError(
                    f"applied_generation: {applied_generation} is ahead of the desired generation {record[0]}"
                )
            ids = [s.service_id for s in statuses]
            if len(set(ids)) != len(ids):
                raise ValidationError("statuses", "each service may appear once per report")
            owner = dict(
                cur.execute(
                    "SELECT s.id, p.cluster_id FROM services s JOIN projects p ON p.id = s.project_id"
                    " WHERE s.id = ANY(%s::uuid[])",
                    (ids,),
                ).fetchall()
            )
            for index, service_id in enumerate(ids):
                if owner.get(service_id, cluster_id) != cluster_id:
                    raise ValidationError(
                        f"statuses[{index}].service_id", "names a service of another cluster"
                    )
            statuses = [s for s in statuses if s.service_id in owner]
            cur.execute(
                "INSERT INTO agent_reports (id, cluster_id, applied_generation, agent)"
                " VALUES (%s, %s, %s, %s)",
                (report_id, cluster_id, applied_generation, agent),
            )
            cur.execute(
                "UPDATE clusters SET last_applied_generation = %s, last_applied_at = now(),"
                " last_applied_report_id = %s WHERE id = %s"
                " AND (last_applied_generation IS NULL OR last_applied_generation <= %s)",
                (applied_generation, report_id, cluster_id, applied_generation),
            )
            for status in statuses:
                cur.execute(
                    "INSERT INTO service_status (service_id, cluster_id, health, reason, status,"
                    " generation, observed_at, report_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (service_id) DO UPDATE SET cluster_id = EXCLUDED.cluster_id,"
                    " health = EXCLUDED.health, reason = EXCLUDED.reason, status = EXCLUDED.status,"
                    " generation = EXCLUDED.generation, observed_at = EXCLUDED.observed_at,"
                    " report_id = EXCLUDED.report_id"
                    " WHERE service_status.observed_at <= EXCLUDED.observed_at",
                    (
                        status.service_id,
                        cluster_id,
                        status.health,
                        status.reason,
                        Jsonb(dict(status.status)),
                        status.generation,
                        status.observed_at,
                        report_id,
                    ),
                )
        return report_id

    def last_applied(self, cluster_id: str) -> tuple[int | None, datetime | None]:
        """The generation last reported applied, and when."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT last_applied_generation, last_applied_at FROM clusters WHERE id = %s",
                (cluster_id,),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return record[0], record[1]

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
                " occurred_at) ON CONFLICT (cluster_id, event_id) DO NOTHING",
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
            return cur.rowcount

    def service_status(self, service_id: str) -> ObservedStatus | None:
        """The cached observed status of a service."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT service_id, health, generation, observed_at, reason, status"
                " FROM service_status WHERE service_id = %s",
                (service_id,),
            ).fetchone()
        if record is None:
            return None
        return ObservedStatus(
            service_id=record[0],
            health=record[1],
            generation=record[2],
            observed_at=record[3],
            reason=record[4],
            status=record[5],
        )

    def service_events(self, service_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A service's events reported by its own cluster's agent, after the ``seq`` cursor."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id, lock=False)
            records = cur.execute(
                "SELECT seq, event_id, type, occurred_at, service_id, reason, message, data"
                " FROM events WHERE service_id = %s AND cluster_id = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (service_id, scope.cluster_id, after, limit + 1),
            ).fetchall()
        events = tuple(
            EventRecord(
                seq=r[0],
                event_id=r[1],
                type=r[2],
                occurred_at=r[3],
                service_id=r[4],
                reason=r[5],
                message=r[6],
                data=r[7],
            )
            for r in records[:limit]
        )
        more = len(records) > limit
        return EventsPage(events=events, next_after=events[-1].seq if more and events else None)

    def audit_entries(self, *, cluster_id: str) -> list[AuditEntry]:
        """Audit entries of changes that touched a cluster, oldest first."""
        with self._read() as cur:
            records = cur.execute(
                "SELECT seq, actor, action, target_type, target_id, created_at, generation,"
                " before, after FROM audit_log WHERE cluster_id = %s ORDER BY seq",
                (cluster_id,),
            ).fetchall()
        return [
            AuditEntry(
                seq=r[0],
                actor=r[1],
                action=r[2],
                target_type=r[3],
                target_id=r[4],
                created_at=r[5],
                generation=r[6],
                before=r[7],
                after=r[8],
            )
            for r in records
        ]
