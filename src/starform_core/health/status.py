"""Health values: kstatus-like object status and the per-service summary."""

from __future__ import annotations

import enum

import attrs

from starform_core.kube.objects import ObjectKey

__all__ = ["ObjectHealth", "ObjectStatus", "ServiceHealth", "ServiceStatus"]


class ObjectStatus(enum.StrEnum):
    """Where one object stands (the kstatus vocabulary)."""

    CURRENT = "Current"
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    TERMINATING = "Terminating"


class ServiceStatus(enum.StrEnum):
    """Where one service stands, as Starbase shows it."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    ERROR = "Error"
    PAUSED = "Paused"


@attrs.frozen
class ObjectHealth:
    """One object's status and a human reason (never a secret value)."""

    status: ObjectStatus
    reason: str


@attrs.frozen
class ServiceHealth:
    """One service's summary status, its reason, and the objects it was judged from."""

    status: ServiceStatus
    reason: str
    objects: tuple[tuple[ObjectKey, ObjectHealth], ...] = ()
