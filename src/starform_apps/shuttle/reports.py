"""What Shuttle reports to Starbase: typed reports with stable ids, in their wire form.

Every report has a kind, an id that never changes (Starbase stores each id once, so re-sending
is harmless) and a JSON body. Kinds differ in what the outbox does when it is full
(:data:`POLICIES`): events drop the oldest (counted and reported); a status report replaces the
unsent one before it (only the latest state matters); usage snapshots are kept (billing).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

__all__ = ["POLICIES", "EventType", "Overflow", "Report", "ReportKind", "event_report", "status_report"]

MESSAGE_MAX: Final = 4000


class ReportKind(enum.StrEnum):
    """The kinds of report (one outbox queue each)."""

    EVENT = "event"
    STATUS = "status"
    USAGE = "usage"


class Overflow(enum.StrEnum):
    """What the outbox does with a kind's reports when it is full, or when a newer one arrives."""

    DROP_OLDEST = "drop-oldest"
    """Keep the newest; the oldest unsent are dropped, counted and reported (``ReportsDropped``)."""
    LATEST_ONLY = "latest-only"
    """A new report replaces the unsent one of its kind: only the current state is worth sending."""
    KEEP = "keep"
    """Never dropped nor replaced (usage snapshots: each bills a window nothing else covers)."""


POLICIES: Final = {
    ReportKind.EVENT: Overflow.DROP_OLDEST,
    ReportKind.STATUS: Overflow.LATEST_ONLY,
    ReportKind.USAGE: Overflow.KEEP,
}


class EventType(enum.StrEnum):
    """Every event type Shuttle emits (docs/operations/shuttle.md lists when)."""

    APPLIED = "Applied"
    DRIFT_REVERTED = "DriftReverted"
    DRIFT_DETECTED = "DriftDetected"
    PRUNED = "Pruned"
    PRUNE_HELD = "PruneHeld"
    OBJECT_CONFLICT = "ObjectConflict"
    RECONCILE_FAILED = "ReconcileFailed"
    RECONCILE_DEFERRED = "ReconcileDeferred"
    PAYLOAD_REJECTED = "PayloadRejected"
    GENERATION_APPLIED = "GenerationApplied"
    EPOCH_STARTED = "EpochStarted"
    REPORTS_DROPPED = "ReportsDropped"


@attrs.frozen
class Report:
    """One report: its kind, its stable id and its wire body."""

    kind: ReportKind
    report_id: str
    body: Mapping[str, Any]


def event_report(
    type_: EventType,
    *,
    now: datetime,
    reason: str = "",
    message: str = "",
    service_id: str | None = None,
    data: Mapping[str, Any] | None = None,
    event_id: str | None = None,
) -> Report:
    """An event (a fresh id unless given). Callers never put secret values in it."""
    event_id = event_id or str(uuid.uuid4())
    body = {
        "event_id": event_id,
        "type": type_.value,
        "reason": reason,
        "message": message[:MESSAGE_MAX],
        "service_id": service_id,
        "data": dict(data or {}),
        "occurred_at": now.isoformat(),
    }
    return Report(ReportKind.EVENT, event_id, body)


def status_report(
    *,
    now: datetime,
    epoch: int,
    applied_generation: int | None,
    attempt: Mapping[str, Any] | None,
    services: list[dict[str, Any]],
    rejected: Mapping[str, Any] | None = None,
) -> Report:
    """A status report: the generation applied in ``epoch``, the last attempt, the last payload
    refused (if one was since the held one), each service's health."""
    report_id = str(uuid.uuid4())
    body = {
        "report_id": report_id,
        "epoch": epoch,
        "applied_generation": applied_generation or 0,
        "attempt": None if attempt is None else dict(attempt),
        "rejected_payload": None if rejected is None else dict(rejected),
        "reported_at": now.isoformat(),
        "services": services,
    }
    return Report(ReportKind.STATUS, report_id, body)
