"""Dashboard reads of what agents reported (applied generation, last attempt, status, events),
and the audit log of a cluster."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import class_row, kwargs_row

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.repository import Cursor, Repository
from starform_core.errors import StoreNotFoundError
from starform_core.records import AuditEntry, EventRecord, EventsPage, ObservedStatus
from starform_core.reporting import AgentState

__all__ = ["DashboardRepository"]

_EVENT_COLUMNS = "seq, event_id, type, occurred_at, service_id, reason, message, data"
_EVENT_ROW = class_row(EventRecord)
_STATUS_ROW = class_row(ObservedStatus)
_AUDIT_ROW = class_row(AuditEntry)


def _agent_state(*, attempt: Any, refused_reports: Any, agent: Any, **columns: Any) -> AgentState:
    """An :class:`AgentState` from the cluster joined with its (possibly missing) agent state."""
    return AgentState(
        agent=agent or "", attempt=attempt or {}, refused_reports=int(refused_reports or 0), **columns
    )


_AGENT_STATE_ROW = kwargs_row(_agent_state)


def _events_page(cur: Cursor, where: str, params: tuple[Any, ...], *, after: int, limit: int) -> EventsPage:
    """The events matching ``where`` after the ``seq`` cursor, one page of ``limit``."""
    records = fetch_all(
        cur,
        f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} AND seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
        (*params, after, limit + 1),
        _EVENT_ROW,
    )
    events = tuple(records[:limit])
    more = len(records) > limit
    return EventsPage(events=events, next_after=events[-1].seq if more and events else None)


class DashboardRepository(Repository):
    """What agents last said, as people read it."""

    def last_applied(self, cluster_id: str) -> tuple[int | None, datetime | None]:
        """The generation last reported applied (in the current epoch), and when."""
        with self._read() as cur:
            record = cur.execute(
                "SELECT last_applied_generation, last_applied_at FROM clusters WHERE id = %s",
                (cluster_id,),
            ).fetchone()
        if record is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return record[0], record[1]

    def agent_state(self, cluster_id: str) -> AgentState:
        """What the agent last reported (its last apply attempt) and its refused reports."""
        with self._read() as cur:
            state = fetch_one(
                cur,
                "SELECT c.epoch, a.agent, a.epoch AS reported_epoch, a.attempted_generation, a.outcome,"
                " a.attempt, a.reported_at, a.refused_reports, a.last_refused_at, a.last_refused_reason"
                " FROM clusters c LEFT JOIN agent_state a ON a.cluster_id = c.id WHERE c.id = %s",
                (cluster_id,),
                _AGENT_STATE_ROW,
            )
        if state is None:
            raise StoreNotFoundError(f"cluster {cluster_id} not found")
        return state

    def service_status(self, service_id: str) -> ObservedStatus | None:
        """The cached observed status of a service."""
        with self._read() as cur:
            return fetch_one(
                cur,
                "SELECT service_id, health, generation, observed_at, reason, status"
                " FROM service_status WHERE service_id = %s",
                (service_id,),
                _STATUS_ROW,
            )

    def service_events(self, service_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A service's events reported by its own cluster's agent, after the ``seq`` cursor."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id, lock=False)
            return _events_page(
                cur,
                "service_id = %s AND cluster_id = %s",
                (service_id, scope.cluster_id),
                after=after,
                limit=limit,
            )

    def recent_service_events(self, service_id: str, *, limit: int = 50) -> tuple[EventRecord, ...]:
        """A service's newest ``limit`` events of its own cluster's agent, oldest first."""
        with self._tx() as cur:
            scope = self._scope_of(cur, "services", service_id, lock=False)
            newest = fetch_all(
                cur,
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE service_id = %s AND cluster_id = %s"  # noqa: S608
                " ORDER BY seq DESC LIMIT %s",
                (service_id, scope.cluster_id, limit),
                _EVENT_ROW,
            )
        return tuple(reversed(newest))

    def cluster_events(self, cluster_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """Every event of the cluster's agent after the ``seq`` cursor (cluster-wide ones too)."""
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM clusters WHERE id = %s", (cluster_id,)).fetchone() is None:
                raise StoreNotFoundError(f"cluster {cluster_id} not found")
            return _events_page(cur, "cluster_id = %s", (cluster_id,), after=after, limit=limit)

    def audit_entries(self, *, cluster_id: str) -> list[AuditEntry]:
        """Audit entries of changes that touched a cluster, oldest first."""
        with self._read() as cur:
            return fetch_all(
                cur,
                "SELECT seq, actor, action, target_type, target_id, created_at, generation,"
                " before, after FROM audit_log WHERE cluster_id = %s ORDER BY seq",
                (cluster_id,),
                _AUDIT_ROW,
            )
