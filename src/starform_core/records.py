"""The values Starbase's store ports take and return besides the payload rows.

A deploy request, var group key metadata, what agents report (observed status, events) and the
audit log. Records carry ids, never objects, and never a secret value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = [
    "AgentView",
    "AuditEntry",
    "EventRecord",
    "EventsPage",
    "NewDeployment",
    "ObservedStatus",
    "ReconcileRequest",
    "VarKeyInfo",
]


@attrs.frozen
class NewDeployment:
    """A deploy request; the store assigns the next version of the service."""

    deployment_id: str
    service_id: str
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None


@attrs.frozen
class VarKeyInfo:
    """Metadata of one var group entry: its key, never its value."""

    key: str
    key_id: str
    updated_at: datetime


@attrs.frozen
class ObservedStatus:
    """The last status an agent reported for one service (a cache; Kubernetes is authoritative)."""

    service_id: str
    health: str
    generation: int
    observed_at: datetime
    reason: str = ""
    status: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class EventRecord:
    """One reconcile or drift event; ``event_id`` makes delivery idempotent.

    ``seq`` is assigned by the store (``0`` before it is stored) and orders events for paging.
    """

    event_id: str
    type: str
    occurred_at: datetime
    service_id: str | None = None
    reason: str = ""
    message: str = ""
    data: Mapping[str, Any] = attrs.field(factory=dict)
    seq: int = 0


@attrs.frozen
class EventsPage:
    """A page of events; pass ``next_after`` back to read the next page (``None``: no more)."""

    events: tuple[EventRecord, ...]
    next_after: int | None


@attrs.frozen
class AuditEntry:
    """One user change: who, what, which target, the cluster generation it produced."""

    seq: int
    actor: str
    action: str
    target_type: str
    target_id: str
    created_at: datetime
    generation: int | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@attrs.frozen
class ReconcileRequest:
    """A person's (or CI's) "reconcile now" for a cluster or one of its services.

    ``served_at`` is set when the cluster's agent reports it reconciled after seeing the request.
    """

    request_id: str
    cluster_id: str
    service_id: str | None
    requested_by: str
    requested_at: datetime
    served_at: datetime | None = None


@attrs.frozen(repr=False)
class AgentView:
    """What answering a cluster's agent needs, in one read: version, token hash, pending requests.

    ``pending_requests`` are the ids of unserved reconcile requests, oldest first (bounded).
    """

    epoch: int
    generation: int
    token_hash: bytes
    pending_requests: tuple[str, ...] = ()

    @property
    def version(self) -> tuple[int, int]:
        """``(epoch, generation)``: the payload cache's key."""
        return (self.epoch, self.generation)

    def __repr__(self) -> str:
        pending = len(self.pending_requests)
        return f"AgentView(epoch={self.epoch}, generation={self.generation}, pending={pending})"
