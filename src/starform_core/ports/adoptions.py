"""Adopt and the observed cache by UID: what agents report, what users decide (seed 004).

Agents report drift (values waiting for adoption) and, with each status report, the objects they
manage by UID (:class:`~starform_core.ports.agents.AgentStore`). Users read a service's
adoptions and objects, and approve or reject a pending adoption here.

Approving (or an ``auto`` policy adopting) writes the live value into the service's desired spec
and bumps the cluster's generation in one transaction; rejecting bumps it too (the payload then
lists the value under ``drift.revert``). Every step is an audit-log entry and an event.

Errors: :class:`~starform_core.errors.StoreNotFoundError` (unknown adoption or service),
:class:`~starform_core.errors.StoreConflictError` (the adoption is not pending any more),
:class:`~starform_core.errors.TemplateRuleError` (the value is outside the template's rules),
:class:`~starform_core.errors.TemplateError` (the value cannot be the service's).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs

from starform_core.access import Actor

__all__ = [
    "AdoptionRecord",
    "AdoptionStatus",
    "AdoptionStore",
    "DriftField",
    "DriftReport",
    "ObjectReport",
    "ObservedObject",
]


class AdoptionStatus(enum.StrEnum):
    """Where an adoption stands."""

    PENDING = "pending"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    REVERTED = "reverted"
    SUPERSEDED = "superseded"


@attrs.frozen
class DriftField:
    """One out-of-band value: the field's JSON pointer in the object, live and desired (compact JSON)."""

    path: str
    live: str
    desired: str | None = None
    manager: str | None = None


@attrs.frozen
class DriftReport:
    """An agent's drift report: one object of one service and its values waiting for adoption."""

    report_id: str
    service_id: str
    kind: str
    namespace: str
    name: str
    uid: str | None
    fields: tuple[DriftField, ...]
    reported_at: datetime | None = None


@attrs.frozen
class ObjectReport:
    """One managed object in a status report: identity, UID, small observed snapshot."""

    service_id: str
    kind: str
    namespace: str
    name: str
    uid: str
    observed: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AdoptionRecord:
    """One adoption as stored (``problems``: the template rules the value breaks)."""

    adoption_id: str
    service_id: str
    kind: str
    namespace: str
    name: str
    uid: str | None
    field: str
    spec_field: str
    live: str
    desired: str | None
    manager: str | None
    status: AdoptionStatus = attrs.field(converter=AdoptionStatus)
    within_rules: bool | None
    problems: tuple[Mapping[str, str], ...]
    decided_by: str | None
    decided_at: datetime | None
    generation: int | None
    first_reported_at: datetime
    last_reported_at: datetime


@attrs.frozen
class ObservedObject:
    """An object of a service by UID; ``current`` false once it was recreated under a new UID,
    ``present`` false once the agent stopped listing it; ``stale`` when not seen for too long."""

    service_id: str
    kind: str
    namespace: str
    name: str
    uid: str
    first_seen_at: datetime
    last_seen_at: datetime
    current: bool
    present: bool
    observed: Mapping[str, Any]
    stale: bool = False


class AdoptionStore(Protocol):
    """A service's adoptions and observed objects; decisions on pending adoptions."""

    def adoption_service(self, adoption_id: str) -> str:
        """The service an adoption belongs to (``StoreNotFoundError`` if unknown)."""
        ...

    def list_adoptions(self, service_id: str, *, limit: int = 50) -> list[AdoptionRecord]:
        """Pending adoptions first, then the most recent decided ones (``limit`` in all)."""
        ...

    def approve_adoption(self, adoption_id: str, *, actor: Actor) -> AdoptionRecord:
        """Adopt a pending value: desired spec + generation in one transaction."""
        ...

    def reject_adoption(self, adoption_id: str, *, actor: Actor) -> AdoptionRecord:
        """Reject a pending value: the next payload makes the agent revert it once."""
        ...

    def service_objects(self, service_id: str, *, stale_after_seconds: float) -> list[ObservedObject]:
        """The service's objects by UID (current ones first), ``stale`` judged by the threshold."""
        ...
