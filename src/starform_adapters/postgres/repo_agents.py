"""What agents read (generation, rows) and report (status, events); dashboard reads of both."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
from psycopg.types.json import Jsonb

from starform_adapters.postgres._base import Cursor, StoreBase
from starform_adapters.postgres.queries import load_cluster, load_rows
from starform_core.errors import AgentReportRefusedError, StoreNotFoundError, ValidationError
from starform_core.payload.rows import ClusterRows
from starform_core.ports.store import Actor, AuditEntry, EventRecord, EventsPage, ObservedStatus
from starform_core.reporting import AgentState, ReportRefusal, judge_report, next_epoch

__all__ = ["AgentRepository"]

_EVENT_COLUMNS = "seq, event_id, type, occurred_at, service_id, reason, message, data"


@attrs.frozen
class _Report:
    applied_generation: int
    statuses: tuple[ObservedStatus, ...]
    agent: str
    report_key: str | None
    epoch: int | None
    attempt: Mapping[str, Any] | None
    reported_at: datetime | None

    @property
    def attempted_generation(self) -> int | None:
        value = (self.attempt or {}).get("generation")
        return int(value) if isinstance(value, int) else None


def _page(records: Sequence[tuple[Any, ...]], limit: int) -> EventsPage:
    events = tuple(
        EventRecord(
            seq=r[0],
            event_id=r[1],
            type=r[2],
            occurred_at=r[3],
            service_id=None if r[4] is None else str(r[4]),
            reason=r[5],
            message=r[6],
            data=r[7],
        )
        for r in records[:limit]
    )
    more = len(records) > limit
    return EventsPage(events=events, next_after=events[-1].seq if more and events else None)


def _lock_cluster(cur: Cursor, cluster_id: str) -> tuple[int, int]:
    record = cur.execute(
        "SELECT epoch, generation FROM clusters WHERE id = %s FOR NO KEY UPDATE", (cluster_id,)
    ).fetchone()
    if record is None:
        raise StoreNotFoundError(f"cluster {cluster_id} not found")
    return int(record[0]), int(record[1])


def _known_statuses(cur: Cursor, cluster_id: str, statuses: Sequence[ObservedStatus]) -> list[ObservedStatus]:
    """The statuses of services that still exist; a service of another cluster is refused."""
    ids = [s.service_id for s in statuses]
    if len(set(ids)) != len(ids):
        raise ValidationError("statuses", "each service may appear once per report")
    owner = dict(
        cur.execute(
            "SELECT s.id::text, p.cluster_id::text FROM services s JOIN projects p ON p.id = s.project_id"
            " WHERE s.id = ANY(%s::uuid[])",
            (ids,),
        ).fetchall()
    )
    for index, service_id in enumerate(ids):
        if owner.get(service_id, cluster_id) != cluster_id:
            raise ValidationError(f"statuses[{index}].service_id", "names a service of another cluster")
    return [s for s in statuses if s.service_id in owner]


def _store_report(cur: Cursor, cluster_id: str, report: _Report) -> str:
    statuses = _known_statuses(cur, cluster_id, report.statuses)
    report_id = str(uuid.uuid4())
    attempt = report.attempt
    cur.execute(
        "INSERT INTO agent_reports (id, cluster_id, applied_generation, agent, report_key, epoch,"
        " attempted_generation, outcome, attempt, reported_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            report_id,
            cluster_id,
            report.applied_generation,
            report.agent,
            report.report_key,
            report.epoch,
            report.attempted_generation,
            None if attempt is None else attempt.get("outcome"),
            None if attempt is None else Jsonb(dict(attempt)),
            report.reported_at,
        ),
    )
    if report.applied_generation >= 1:
        cur.execute(
            "UPDATE clusters SET last_applied_generation = %s, last_applied_at = now(),"
            " last_applied_report_id = %s WHERE id = %s"
            " AND (last_applied_generation IS NULL OR last_applied_generation <= %s)",
            (report.applied_generation, report_id, cluster_id, report.applied_generation),
        )
    _remember_agent(cur, cluster_id, report, report_id)
    for status in statuses:
        _upsert_status(cur, cluster_id, status, report_id)
    return report_id


def _remember_agent(cur: Cursor, cluster_id: str, report: _Report, report_id: str) -> None:
    """The cluster's agent state: the last attempt (a newer report wins), the highest epoch seen."""
    attempt = report.attempt
    cur.execute(
        "INSERT INTO agent_state AS a (cluster_id, agent, epoch, attempted_generation, outcome, attempt,"
        " reported_at, report_id, highest_epoch_seen) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (cluster_id) DO UPDATE SET agent = EXCLUDED.agent, epoch = EXCLUDED.epoch,"
        " attempted_generation = coalesce(EXCLUDED.attempted_generation, a.attempted_generation),"
        " outcome = coalesce(EXCLUDED.outcome, a.outcome),"
        " attempt = CASE WHEN EXCLUDED.outcome IS NULL THEN a.attempt ELSE EXCLUDED.attempt END,"
        " reported_at = EXCLUDED.reported_at, report_id = EXCLUDED.report_id,"
        " highest_epoch_seen = greatest(a.highest_epoch_seen, EXCLUDED.highest_epoch_seen)"
        " WHERE a.reported_at IS NULL OR EXCLUDED.reported_at IS NULL"
        " OR a.reported_at <= EXCLUDED.reported_at",
        (
            cluster_id,
            report.agent,
            report.epoch,
            report.attempted_generation,
            None if attempt is None else attempt.get("outcome"),
            Jsonb(dict(attempt or {})),
            report.reported_at,
            report_id,
            report.epoch or 0,
        ),
    )


def _upsert_status(cur: Cursor, cluster_id: str, status: ObservedStatus, report_id: str) -> None:
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


def _record_refusal(cur: Cursor, cluster_id: str, report: _Report, refusal: ReportRefusal) -> None:
    cur.execute(
        "INSERT INTO agent_report_refusals (cluster_id, reason, detail, epoch, applied_generation,"
        " report_key) VALUES (%s, %s, %s, %s, %s, %s)",
        (
            cluster_id,
            refusal.reason.value,
            refusal.detail[:1000],
            report.epoch,
            report.applied_generation,
            report.report_key,
        ),
    )
    cur.execute(
        "INSERT INTO agent_state AS a (cluster_id, agent, highest_epoch_seen, refused_reports,"
        " last_refused_at, last_refused_reason) VALUES (%s, %s, %s, 1, now(), %s)"
        " ON CONFLICT (cluster_id) DO UPDATE SET refused_reports = a.refused_reports + 1,"
        " last_refused_at = now(), last_refused_reason = EXCLUDED.last_refused_reason,"
        " highest_epoch_seen = greatest(a.highest_epoch_seen, EXCLUDED.highest_epoch_seen)",
        (cluster_id, report.agent, report.epoch or 0, f"{refusal.reason.value}: {refusal.detail}"[:1000]),
    )


class AgentRepository(StoreBase):
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

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        """The cluster's ``(epoch, generation)`` (one indexed read)."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT epoch, generation FROM clusters WHERE id = %s", (cluster_id,)
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return int(record[0]), int(record[1])

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
    ) -> str:
        """Store an agent report: the generation applied, the last attempt, each service's status.

        Statuses of services that no longer exist (deleted since the agent's pull) are skipped;
        a service of another cluster is refused. A refused report is recorded, then raised.
        """
        report = _Report(
            applied_generation=applied_generation,
            statuses=tuple(statuses),
            agent=agent,
            report_key=report_key,
            epoch=epoch,
            attempt=attempt,
            reported_at=reported_at,
        )
        with self._tx() as cur:
            cluster_epoch, desired = _lock_cluster(cur, cluster_id)
            if report_key is not None:
                known = cur.execute(
                    "SELECT id FROM agent_reports WHERE cluster_id = %s AND report_key = %s",
                    (cluster_id, report_key),
                ).fetchone()
                if known is not None:
                    return str(known[0])  # re-sent after a lost answer: stored once
            refusal = judge_report(
                cluster_epoch=cluster_epoch,
                desired_generation=desired,
                epoch=epoch,
                applied_generation=applied_generation,
                attempted_generation=report.attempted_generation,
            )
            if refusal is None:
                return _store_report(cur, cluster_id, report)
            _record_refusal(cur, cluster_id, report, refusal)
        raise AgentReportRefusedError(refusal.reason.value, refusal.detail)

    def agent_state(self, cluster_id: str) -> AgentState:
        """What the agent last reported (the cluster view)."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT c.epoch, a.agent, a.epoch, a.attempted_generation, a.outcome, a.attempt,"
                " a.reported_at, a.refused_reports, a.last_refused_at, a.last_refused_reason"
                " FROM clusters c LEFT JOIN agent_state a ON a.cluster_id = c.id WHERE c.id = %s",
                (cluster_id,),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return AgentState(
            epoch=int(record[0]),
            agent=record[1] or "",
            reported_epoch=record[2],
            attempted_generation=record[3],
            outcome=record[4],
            attempt=record[5] or {},
            reported_at=record[6],
            refused_reports=int(record[7] or 0),
            last_refused_at=record[8],
            last_refused_reason=record[9],
        )

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
            epoch = next_epoch(
                current=int(record[0]), highest_reported=int(record[2]), now_millis=int(record[3])
            )
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
                generation=int(record[1]),
                before={"epoch": int(record[0])},
                after={"epoch": epoch},
            )
        return epoch

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
                f"SELECT {_EVENT_COLUMNS} FROM events"  # noqa: S608
                " WHERE service_id = %s AND cluster_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                (service_id, scope.cluster_id, after, limit + 1),
            ).fetchall()
        return _page(records, limit)

    def cluster_events(self, cluster_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """Every event of the cluster's agent after the ``seq`` cursor (cluster-wide ones too)."""
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM clusters WHERE id = %s", (cluster_id,)).fetchone() is None:
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            records = cur.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE cluster_id = %s AND seq > %s"  # noqa: S608
                " ORDER BY seq LIMIT %s",
                (cluster_id, after, limit + 1),
            ).fetchall()
        return _page(records, limit)

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
