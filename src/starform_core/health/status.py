"""Health values: kstatus-like object status and the per-service summary."""

from __future__ import annotations

import enum

import attrs

from starform_core.kube.objects import ObjectKey

__all__ = ["ObjectHealth", "ObjectStatus", "ServiceHealth", "ServiceStatus"]


class ObjectStatus(enum.StrEnum):
    """Where one object stands (the kstatus vocabulary, plus Argo CD's Suspended)."""

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"
    SUSPENDED = "Suspended"
    NOT_FOUND = "NotFound"


class ServiceStatus(enum.StrEnum):
    """Where one service stands, as Starbase shows it (worst first)."""

    ERROR = "Error"
    DEGRADED = "Degraded"
    MISSING = "Missing"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"


@attrs.frozen
class ObjectHealth:
    """One object's status and a human reason (never a secret value)."""

    status: ObjectStatus
    reason: str


@attrs.frozen
class ServiceHealth:
    """One service's summary status, its reason, and the objects it was judged from.

    ``name`` is the service's name (its ``starform.io/service-name`` label) when known. Desired
    objects that are not live are in ``objects`` with status ``NotFound`` (see :attr:`missing`).
    """

    status: ServiceStatus
    reason: str
    objects: tuple[tuple[ObjectKey, ObjectHealth], ...] = ()
    name: str | None = attrs.field(default=None, kw_only=True)

    @property
    def missing(self) -> tuple[ObjectKey, ...]:
        """The desired objects of the service that are not in the cluster."""
        return tuple(key for key, health in self.objects if health.status is ObjectStatus.NOT_FOUND)
