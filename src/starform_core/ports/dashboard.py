"""What the dashboard reads of agents' reports: applied generations, the last apply attempt,
observed status, events.

Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown cluster or service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from starform_core.records import EventRecord, EventsPage, ObservedStatus
from starform_core.reporting.agent import AgentState

__all__ = ["DashboardReads"]


class DashboardReads(Protocol):
    """Reads of the observed cache (Kubernetes is authoritative; this is what agents last said)."""

    def last_applied(self, cluster_id: str) -> tuple[int | None, datetime | None]:
        """The generation the cluster's agent last reported applied, and when."""
        ...

    def agent_state(self, cluster_id: str) -> AgentState:
        """What the cluster's agent last reported (its last apply attempt), and its refused reports."""
        ...

    def service_status(self, service_id: str) -> ObservedStatus | None:
        """The cached observed status of a service, if any agent reported one."""
        ...

    def service_events(self, service_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A service's events in order, after the ``seq`` cursor."""
        ...

    def recent_service_events(self, service_id: str, *, limit: int = 50) -> tuple[EventRecord, ...]:
        """A service's newest ``limit`` events, oldest first (where a live view starts)."""
        ...

    def cluster_events(self, cluster_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """Every event the cluster's agent reported (cluster-wide ones included), after ``seq``."""
        ...
