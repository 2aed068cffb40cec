"""The statements behind one agent status report: store it (with each service's status and the
agent's state), or record why it was refused.

:meth:`~starform_adapters.postgres.repo_agents.AgentRepository.record_status` locks the cluster
row, judges the report with :func:`~starform_core.reporting.judge_report` and calls one of
:func:`store_report` or :func:`record_refusal` inside the same transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from psycopg.types.json import Jsonb

from starform_adapters.postgres.observed_objects import store_objects
from starform_adapters.postgres.repository import Cursor
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.ports.adoptions import ObjectReport
from starform_core.records import ObservedStatus
from starform_core.reporting import ReportRefusal

__all__ = ["AgentReport", "known_report", "lock_cluster_version", "record_refusal", "store_report"]


@attrs.frozen(kw_only=True)
class AgentReport:
    """One status report as the agent sent it."""

    applied_generation: int
    statuses: tuple[ObservedStatus, ...]
    agent: str
    report_key: str | None
    epoch: int | None
    attempt: Mapping[str, Any] | None
    reported_at: datetime | None
    objects: tuple[ObjectReport, ...] | None = None

    @property
    def attempted_generation(self) -> int | None:
        """The generation of the last apply attempt, if the report carries one."""
        value = (self.attempt or {}).get("generation")
        return value if isinstance(value, int) else None

    @property
    def outcome(self) -> str | None:
        """The outcome of the last apply attempt, if the report carries one."""
        return None if self.attempt is None else self.attempt.get("outcome")


def lock_cluster_version(cur: Cursor, cluster_id: str) -> tuple[int, int]:
    """Lock the cluster row (serialising its reports and writers); its ``(epoch, generation)``."""
    record = cur.execute(
        "SELECT epoch, generation FROM clusters WHERE id = %s FOR NO KEY UPDATE", (cluster_id,)
    ).fetchone()
    if record is None:
        raise StoreNotFoundError(f"cluster {cluster_id} not found")
    return int(record[0]), int(record[1])


def known_report(cur: Cursor, cluster_id: str, report_key: str | None) -> str | None:
    """The id of a report already stored under the agent's ``report_key`` (a re-sent one)."""
    if report_key is None:
        return None
    record = cur.execute(
        "SELECT id FROM agent_reports WHERE cluster_id = %s AND report_key = %s", (cluster_id, report_key)
    ).fetchone()
    return None if record is None else str(record[0])


def _known_services(cur: Cursor, cluster_id: str, ids: Sequence[str], where: str) -> set[str]:
    """The services of ``ids`` that still exist; a service of another cluster is refused."""
    owner = dict(
        cur.execute(
            "SELECT s.id::text, p.cluster_id::text FROM services s JOIN projects p ON p.id = s.project_id"
            " WHERE s.id = ANY(%s::uuid[])",
            (sorted(set(ids)),),
        ).fetchall()
    )
    for index, service_id in enumerate(ids):
        if owner.get(service_id, cluster_id) != cluster_id:
            raise ValidationError(f"{where}[{index}].service_id", "names a service of another cluster")
    return set(owner)


def _known_statuses(cur: Cursor, cluster_id: str, statuses: Sequence[ObservedStatus]) -> list[ObservedStatus]:
    """The statuses of services that still exist; a service of another cluster is refused."""
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
            raise ValidationError(f"statuses[{index}].service_id", "names a service of another cluster")
    return [s for s in statuses if s.service_id in owner]


def store_report(cur: Cursor, cluster_id: str, report: AgentReport) -> str:
    """Store a believed report: the report row, the applied generation, the agent's state, statuses."""
    statuses = _known_statuses(cur, cluster_id, report.statuses)
    report_id = str(uuid.uuid4())
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
            report.outcome,
            None if report.attempt is None else Jsonb(dict(report.attempt)),
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
        cur.execute(
            "UPDATE builds SET state = 'live', live_at = now(), updated_at = now()"
            " WHERE cluster_id = %s AND state = 'deploying' AND generation <= %s",
            (cluster_id, report.applied_generation),
        )
    _remember_agent(cur, cluster_id, report, report_id)
    _upsert_statuses(cur, cluster_id, statuses, report_id)
    if report.objects is not None:
        known = _known_services(cur, cluster_id, [o.service_id for o in report.objects], "objects")
        store_objects(cur, cluster_id, report.objects, known, report.reported_at or datetime.now(UTC))
    return report_id


def _remember_agent(cur: Cursor, cluster_id: str, report: AgentReport, report_id: str) -> None:
    """The cluster's agent state: the last attempt (a newer report wins), the highest epoch seen."""
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
            report.outcome,
            Jsonb(dict(report.attempt or {})),
            report.reported_at,
            report_id,
            report.epoch or 0,
        ),
    )


def _upsert_statuses(
    cur: Cursor, cluster_id: str, statuses: Sequence[ObservedStatus], report_id: str
) -> None:
    """Each service's status (an older observation never overwrites a newer one), in one statement."""
    if not statuses:
        return
    cur.execute(
        "INSERT INTO service_status (service_id, cluster_id, health, reason, status,"
        " generation, observed_at, report_id)"
        " SELECT r.sid, %s, r.health, r.reason, r.status::jsonb, r.generation, r.observed_at, %s"
        " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])"
        " AS r(sid, health, reason, status, generation, observed_at)"
        " ON CONFLICT (service_id) DO UPDATE SET cluster_id = EXCLUDED.cluster_id,"
        " health = EXCLUDED.health, reason = EXCLUDED.reason, status = EXCLUDED.status,"
        " generation = EXCLUDED.generation, observed_at = EXCLUDED.observed_at,"
        " report_id = EXCLUDED.report_id"
        " WHERE service_status.observed_at <= EXCLUDED.observed_at",
        (
            cluster_id,
            report_id,
            [s.service_id for s in statuses],
            [s.health for s in statuses],
            [s.reason for s in statuses],
            [json.dumps(dict(s.status)) for s in statuses],
            [s.generation for s in statuses],
            [s.observed_at for s in statuses],
        ),
    )


def record_refusal(cur: Cursor, cluster_id: str, report: AgentReport, refusal: ReportRefusal) -> None:
    """Keep a refused report in the audit trail and count it on the agent's state."""
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
