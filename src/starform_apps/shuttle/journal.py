"""The events of an apply, written before the actions they report count as done.

Before an action is sent, its event is written to the outbox as an *intent* under the id the
request carries as ``Audit-ID``; when the outcome is known (in the worker, before the next
action starts) the intent becomes the action's event: its success (``Applied``,
``DriftReverted``, ``Pruned``) or ``ReconcileFailed``, same id. A crash between the two leaves
the intent; :func:`recover_intents` settles it after the restart from a fresh plan of the payload
it was made for (kept on disk for it, see :mod:`.held`), before anything is pulled: an action the
plan no longer needs took effect (its success event is sent), one it
still needs did not (``ReconcileFailed``, reason ``interrupted``). So every request the API
server saw has exactly one event in Starbase.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from starform_apps.shuttle.executor import ActionOutcome, service_of
from starform_apps.shuttle.held import payload_version_of
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox, Queued
from starform_apps.shuttle.redact import Redactor
from starform_apps.shuttle.reports import EventType, Report, event_report
from starform_core.kube.objects import ObjectKey
from starform_core.pipeline.present import action_changes
from starform_core.plan import (
    Action,
    ActionKind,
    Conflict,
    Create,
    Delete,
    DriftDetected,
    Held,
    Plan,
    Reason,
    RemoveFields,
    Update,
)
from starform_core.reporting import ActionResult, Version

__all__ = ["ApplyContext", "ApplyJournal", "event_data", "intent_version", "recover_intents", "success_type"]

_log = logging.getLogger("starform.shuttle")


def success_type(action: Action, *, restoring: bool) -> EventType:
    """The event an executable action produces when it succeeds.

    ``restoring``: the generation was applied in full before, so a create puts back an object
    deleted out of band (a drift revert), not a new one.
    """
    match action:
        case Create():
            return EventType.DRIFT_REVERTED if restoring else EventType.APPLIED
        case Update(reason=Reason.DRIFTED) | RemoveFields():
            return EventType.DRIFT_REVERTED
        case Update():
            return EventType.APPLIED
        case Delete():
            return EventType.PRUNED
        case Held() | Conflict() | DriftDetected():
            raise ValueError(f"{action.kind.value} is a report: it produces no outcome event")


@attrs.frozen
class ApplyContext:
    """What the events of one apply say besides the action: the payload's version, whether it
    was applied in full before, and the service of every live owned object."""

    epoch: int
    generation: int
    restoring: bool
    services: Mapping[ObjectKey, str] = attrs.field(factory=dict)
    redact: Redactor = attrs.field(factory=Redactor)


def event_data(action: Action, context: ApplyContext, **extra: Any) -> dict[str, Any]:
    """The ``data`` of an action's event: the object, the action, the version, the field diffs."""
    data: dict[str, Any] = {
        "object": str(action.key),
        "kind": action.key.kind,
        "action": action.kind.value,
        "epoch": context.epoch,
        "generation": context.generation,
        **extra,
    }
    changes = [
        {k: v for k, v in attrs.asdict(change).items() if v not in (None, False, "")}
        for change in action_changes(action)
    ]
    if changes:
        data["fields"] = changes
    return data


def _service(action: Action, context: ApplyContext) -> str | None:
    """The action's service: from the object it applies, else from the live object's label."""
    return service_of(action) or context.services.get(action.key)


class ApplyJournal:
    """Implements :class:`~starform_apps.shuttle.executor.Journal` over the outbox (thread-safe)."""

    def __init__(
        self,
        outbox: Outbox,
        metrics: ShuttleMetrics,
        context: ApplyContext,
        *,
        total: int,
        now: Callable[[], datetime],
    ) -> None:
        self._outbox = outbox
        self._metrics = metrics
        self._context = context
        self._now = now
        self._lock = threading.Lock()
        self._total = total
        self._step = max(100, total // 10)
        self._done = 0

    def _event(
        self, action: Action, type_: EventType, *, message: str, event_id: str | None = None, **extra: Any
    ) -> Report:
        return event_report(
            type_,
            now=self._now(),
            reason=action.reason.value,
            message=message,
            service_id=_service(action, self._context),
            data=event_data(action, self._context, **extra),
            event_id=event_id,
        )

    def begin(self, action: Action) -> str:
        """Write the action's success event as an intent; its id is the request's ``Audit-ID``."""
        type_ = success_type(action, restoring=self._context.restoring)
        report = self._event(action, type_, message=f"{action.kind.value} {action.key}")
        self._outbox.open_intent(report)
        return report.report_id

    def end(self, outcome: ActionOutcome) -> None:
        """Settle the intent (or record a skip), count and log the outcome."""
        action = outcome.action
        self._metrics.actions.labels(
            action=action.kind.value, kind=action.key.kind, result=outcome.result.value
        ).inc()
        match outcome.result:
            case ActionResult.OK:
                self._succeeded(outcome)
            case ActionResult.FAILED:
                self._failed(outcome)
            case ActionResult.SKIPPED:
                self._outbox.add(
                    self._event(
                        action,
                        EventType.RECONCILE_FAILED,
                        message=f"{action.kind.value} {action.key}: a dependency failed",
                        error="dependency-failed",
                    )
                )
            case ActionResult.CANCELLED:
                return
        self._progress()

    def _succeeded(self, outcome: ActionOutcome) -> None:
        action = outcome.action
        type_ = success_type(action, restoring=self._context.restoring)
        if type_ is EventType.DRIFT_REVERTED:
            self._metrics.drift.labels(mode="enforce").inc()
        assert outcome.request_id is not None
        self._outbox.settle(
            outcome.request_id,
            self._event(
                action, type_, message=f"{action.kind.value} {action.key}", event_id=outcome.request_id
            ),
        )

    def _failed(self, outcome: ActionOutcome) -> None:
        action = outcome.action
        error = self._context.redact(outcome.error)
        failure = self._event(
            action,
            EventType.RECONCILE_FAILED,
            message=error or f"{action.kind.value} {action.key} failed",
            event_id=outcome.request_id,
            status=outcome.status,
            error=outcome.reason,
        )
        if outcome.request_id is not None:
            self._outbox.settle(outcome.request_id, failure)
        else:
            self._outbox.add(failure)
        _log.warning(
            "action failed",
            extra={
                "object": str(action.key),
                "kind": action.key.kind,
                "verb": action.kind.value,
                "status": outcome.status if outcome.status else "transport-error",
                "reason": error,
                "request_id": outcome.request_id,
            },
        )

    def _progress(self) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        if self._total >= self._step and (done % self._step == 0 or done == self._total):
            _log.info("apply progress", extra={"done": done, "total": self._total})


def _still_needed(the_plan: Plan) -> set[tuple[str, str]]:
    needed = {(str(a.key), a.kind.value) for a in the_plan.executable}
    needed |= {(str(a.key), ActionKind.DELETE.value) for a in the_plan.actions if isinstance(a, Held)}
    return needed


def intent_version(intent: Queued) -> Version | None:
    """The ``(epoch, generation)`` of the payload an intent was made for."""
    return payload_version_of(intent.body)


def recover_intents(
    outbox: Outbox, plans: Mapping[Version, Plan], *, now: Callable[[], datetime]
) -> tuple[int, int]:
    """Settle intents a crash left, each from a fresh plan of the payload it was made for
    (``plans``, by version): an action that plan no longer needs took effect, one it still needs
    did not. An intent whose payload has no plan (it is gone) is settled as not in effect, with a
    warning: what it did is unknown, and the next apply sends what is still needed.

    Returns ``(confirmed, interrupted)``.
    """
    needed = {version: _still_needed(plan) for version, plan in plans.items()}
    confirmed = interrupted = unknown = 0
    for intent in outbox.intents():
        data = dict(intent.body.get("data") or {})
        version = intent_version(intent)
        still = needed.get(version) if version is not None else None
        if still is not None and (str(data.get("object")), str(data.get("action"))) not in still:
            confirmed += 1
            outbox.settle(intent.report_id, Report(intent.kind, intent.report_id, _confirmed(intent, data)))
            continue
        interrupted += 1
        unknown += still is None
        outbox.settle(intent.report_id, _interrupted(intent, data, now()))
    if unknown:
        _log.warning(
            "settled actions a restart interrupted without the payload they were made for",
            extra={"actions": unknown},
        )
    if confirmed or interrupted:
        _log.info(
            "settled the actions a restart interrupted",
            extra={"took_effect": confirmed, "not_in_effect": interrupted},
        )
    return confirmed, interrupted


def _confirmed(intent: Queued, data: dict[str, Any]) -> dict[str, Any]:
    return {**intent.body, "data": {**data, "confirmed_after_restart": True}}


def _interrupted(intent: Queued, data: dict[str, Any], now: datetime) -> Report:
    return event_report(
        EventType.RECONCILE_FAILED,
        now=now,
        reason=str(intent.body.get("reason") or ""),
        message=(
            f"{data.get('action')} {data.get('object')}: Shuttle stopped before the API server answered;"
            " the change is not in effect and is applied again"
        ),
        service_id=intent.body.get("service_id"),
        data={**data, "error": "interrupted"},
        event_id=intent.report_id,
    )
