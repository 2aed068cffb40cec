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

__all__ = [
    "POLICIES",
    "SERVED_REQUESTS_MAX",
    "EventType",
    "Overflow",
    "Report",
    "ReportKind",
    "drift_report",
    "event_report",
    "served_requests_of",
    "status_report",
    "with_served_requests",
]

MESSAGE_MAX: Final = 4000
SERVED_REQUESTS_MAX: Final = 100
"""Reconcile request ids one status report names at most (the newest are kept)."""


class ReportKind(enum.StrEnum):
    """The kinds of report (one outbox queue each)."""

    EVENT = "event"
    STATUS = "status"
    DRIFT = "drift"
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
    ReportKind.DRIFT: Overflow.DROP_OLDEST,
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
    served: tuple[str, ...] = (),
    objects: list[dict[str, Any]] | None = None,
) -> Report:
    """A status report: the generation applied in ``epoch``, the last attempt, the last payload
    refused (if one was since the held one), each service's health, the reconcile requests
    served (``served_reconcile_requests``, only when there are any) and the managed objects
    (UIDs and snapshots; left out when not given)."""
    report_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "report_id": report_id,
        "epoch": epoch,
        "applied_generation": applied_generation or 0,
        "attempt": None if attempt is None else dict(attempt),
        "rejected_payload": None if rejected is None else dict(rejected),
        "reported_at": now.isoformat(),
        "services": services,
    }
    if objects is not None:
        body["objects"] = objects
    return with_served_requests(Report(ReportKind.STATUS, report_id, body), served)


def served_requests_of(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The reconcile request ids a status report's body names."""
    served = body.get("served_reconcile_requests") or ()
    return tuple(str(rid) for rid in served) if isinstance(served, list | tuple) else ()


def with_served_requests(report: Report, served: tuple[str, ...]) -> Report:
    """``report`` also naming ``served`` (after the ids it names; once each, the newest
    :data:`SERVED_REQUESTS_MAX`)."""
    ids = tuple(dict.fromkeys((*served_requests_of(report.body), *served)))[-SERVED_REQUESTS_MAX:]
    if not ids:
        return report
    return attrs.evolve(report, body={**report.body, "served_reconcile_requests": list(ids)})


def drift_report(
    *,
    now: datetime,
    epoch: int,
    generation: int,
    service_id: str,
    object_ref: Mapping[str, Any],
    fields: list[dict[str, Any]],
) -> Report:
    """A drift report (``adopt`` policy): one object's out-of-band values waiting for Starbase.

    ``object_ref`` is ``kind``, ``namespace``, ``name``, ``uid``; each field its ``path``, the
    ``live`` and ``desired`` values (compact JSON) and the ``manager`` that wrote it. Callers
    never put secret values in it (only adoptable fields are reported, and values are redacted).
    """
    report_id = str(uuid.uuid4())
    body = {
        "report_id": report_id,
        "epoch": epoch,
        "generation": generation,
        "service_id": service_id,
        "object": dict(object_ref),
        "fields": fields,
        "reported_at": now.isoformat(),
    }
    return Report(ReportKind.DRIFT, report_id, body)
