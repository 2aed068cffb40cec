"""What a fresh plan reports besides its actions: drift under detect-only policies, drift
reports of values waiting for adoption (``adopt``: :data:`~.reports.ReportKind.DRIFT`), objects in
the way, holds, kinds the cluster does not serve. Events, warnings and the hold metrics.

Holds and conflicts are reported when they change (a hold that lasts is one warning and one
event, and the ``shuttle_held_objects`` gauge); detected drift each time the plan is recomputed
while it lasts (at least every five minutes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from starform_apps.shuttle.journal import ApplyContext, event_data
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.planning import Planned
from starform_apps.shuttle.reports import EventType, Report, drift_report, event_report
from starform_core.plan import Conflict, DriftDetected, Held, Reason

__all__ = ["PlanReporter", "drift_report_of"]

_log = logging.getLogger("starform.shuttle")


class PlanReporter:
    """Turns the reports of fresh plans into events, warnings and gauges."""

    def __init__(self, outbox: Outbox, metrics: ShuttleMetrics, *, now: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._metrics = metrics
        self._now = now
        self._held: frozenset[tuple[str, str]] = frozenset()
        self._conflicts: frozenset[str] = frozenset()
        self._deferred: set[tuple[str, str]] = set()
        self._reasons: set[str] = set()

    def report(self, planned: Planned, context: ApplyContext) -> None:
        """Report what ``planned`` holds, detects or defers (nothing for a reused plan)."""
        if not planned.fresh:
            return
        the_plan = planned.result.plan
        events: list[Report] = []
        for action in the_plan.actions:
            if isinstance(action, DriftDetected):
                adopt = action.reason is Reason.AWAITING_ADOPTION
                self._metrics.drift.labels(mode="adopt" if adopt else "detect").inc()
                events.append(self._event(action, EventType.DRIFT_DETECTED, context))
                drift = drift_report_of(action, context, now=self._now()) if adopt else None
                if drift is not None:
                    events.append(drift)
        events.extend(self._conflict_events(planned, context))
        events.extend(self._hold_events(planned, context))
        events.extend(self._deferred_events(planned))
        self._metrics.prune_held.set(1 if the_plan.prune_held else 0)
        if events:
            self._outbox.add(*events)

    def _event(
        self,
        action: DriftDetected | Conflict | Held,
        type_: EventType,
        context: ApplyContext,
        **extra: object,
    ) -> Report:
        return event_report(
            type_,
            now=self._now(),
            reason=action.reason.value,
            message=f"{action.kind.value} {action.key} ({action.reason.value})",
            service_id=context.services.get(action.key),
            data=event_data(action, context, **extra),
        )

    def _conflict_events(self, planned: Planned, context: ApplyContext) -> list[Report]:
        conflicts = [a for a in planned.result.plan.actions if isinstance(a, Conflict)]
        keys = frozenset(str(a.key) for a in conflicts)
        if keys == self._conflicts:
            return []
        new = [a for a in conflicts if str(a.key) not in self._conflicts]
        self._conflicts = keys
        for action in new:
            _log.warning(
                "an object Shuttle does not own is in the way",
                extra={"object": str(action.key), "managed_by": action.managed_by or "(no manager label)"},
            )
        return [self._event(a, EventType.OBJECT_CONFLICT, context, managed_by=a.managed_by) for a in new]

    def _hold_events(self, planned: Planned, context: ApplyContext) -> list[Report]:
        the_plan = planned.result.plan
        holds = [a for a in the_plan.actions if isinstance(a, Held)]
        by_reason = Counter(a.reason.value for a in holds)
        for reason in self._reasons | set(by_reason):
            self._metrics.held_objects.labels(reason=reason).set(by_reason.get(reason, 0))
        self._reasons |= set(by_reason)
        keys = frozenset((str(a.key), a.reason.value) for a in holds)
        if keys == self._held:
            return []
        self._held = keys
        if not holds:
            _log.info("nothing is held any more")
            return []
        prune = the_plan.prune
        _log.warning(
            "objects held",
            extra={
                "held": dict(by_reason),
                "would_delete": prune.would_delete,
                "owned": prune.owned,
                "examples": [str(a.key) for a in holds[:5]],
            },
        )
        events: list[Report] = []
        if the_plan.prune_held and prune.reason is not None:
            events.append(
                event_report(
                    EventType.PRUNE_HELD,
                    now=self._now(),
                    reason=prune.reason.value,
                    message=f"{prune.would_delete} of {prune.owned} owned objects would be deleted",
                    data={
                        "would_delete": prune.would_delete,
                        "owned": prune.owned,
                        "epoch": context.epoch,
                        "generation": context.generation,
                    },
                )
            )
        events.extend(
            self._event(
                a,
                EventType.PRUNE_HELD
                if a.reason is not Reason.TARGET_MISSING
                else EventType.RECONCILE_DEFERRED,
                context,
            )
            for a in holds
            if a.reason not in (Reason.MASS_DELETION, Reason.STARBASE_UNREACHABLE)
        )
        return events

    def _deferred_events(self, planned: Planned) -> list[Report]:
        events = []
        for group, kind in planned.result.deferred_kinds:
            if (group, kind) in self._deferred:
                continue
            self._deferred.add((group, kind))
            _log.warning("a rendered kind is not served by this cluster", extra={"kind": f"{kind}.{group}"})
            events.append(
                event_report(
                    EventType.RECONCILE_DEFERRED,
                    now=self._now(),
                    reason="kind-not-served",
                    message=f"{kind}.{group} is not served by this cluster (is its CRD installed?)",
                    data={"kind": kind, "group": group},
                )
            )
        return events


def drift_report_of(action: DriftDetected, context: ApplyContext, *, now: datetime) -> Report | None:
    """The drift report of an object whose adoptable fields wait for Starbase: values pass the
    payload's redactor, Secret fields are never listed (``None`` when nothing is left)."""
    service_id = context.services.get(action.key)
    if service_id is None:
        return None
    redact = context.redact
    fields = [
        {
            "path": change.path,
            "live": None if change.live is None else redact(change.live),
            "desired": None if change.desired is None else redact(change.desired),
            "manager": change.manager,
        }
        for change in action.changes
        if not change.redacted and action.key.kind != "Secret"
    ]
    if not fields:
        return None
    key = action.key
    ref = {"kind": key.kind, "namespace": key.namespace, "name": key.name, "uid": action.uid}
    return drift_report(
        now=now,
        epoch=context.epoch,
        generation=context.generation,
        service_id=service_id,
        object_ref=ref,
        fields=fields,
    )
