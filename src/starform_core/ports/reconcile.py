"""Reconcile requests: "reconcile now" for a cluster or a service, served by the cluster's agent.

A request wakes the agent's held long-poll (the answer names the pending request ids); the agent
reconciles from a fresh list of the live objects and reports the ids it served. Errors:
:class:`~starform_core.errors.StoreNotFoundError` for an unknown cluster or service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from starform_core.records import ReconcileRequest

__all__ = ["MAX_SERVED_PER_REPORT", "ReconcileStore"]

MAX_SERVED_PER_REPORT = 100
"""The most reconcile request ids one status report may mark served (and one answer names)."""


class ReconcileStore(Protocol):
    """Record reconcile requests, list them, mark them served."""

    def request_reconcile(
        self, cluster_id: str, *, service_id: str | None = None, requested_by: str
    ) -> ReconcileRequest:
        """Record a pending request (the service, if named, must be on the cluster)."""
        ...

    def service_reconcile_requests(self, service_id: str, *, limit: int = 50) -> list[ReconcileRequest]:
        """The service's most recent requests, newest first (served or not)."""
        ...

    def mark_reconciles_served(self, cluster_id: str, request_ids: Sequence[str]) -> int:
        """Set ``served_at`` on the cluster's pending requests among ``request_ids``; returns how many.

        Ids of other clusters, unknown ids and requests served already are ignored (a re-sent
        report changes nothing).
        """
        ...
