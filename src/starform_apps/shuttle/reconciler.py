"""One reconcile: pull → plan → execute → report, each a part with one verb.

Level-driven and idempotent: every reconcile recomputes from scratch, so a crash anywhere is
repaired by the next one (and the events a crash interrupted are settled by the first
reconcile after the restart). A ``304`` with nothing drifted costs no Kubernetes write and no
LIST. The outcome is honest: a generation is applied only when every action of its plan
succeeded and nothing was held (:func:`~starform_core.reporting.assess_apply`). A pull that
carries reconcile requests makes a full reconcile: the live objects are listed afresh (no cached
view, no reused plan), and the next status report names the requests served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from starform_apps.shuttle.applied import AppliedState
from starform_apps.shuttle.executor import Execution, execute
from starform_apps.shuttle.held import HeldPayload
from starform_apps.shuttle.journal import ApplyContext, ApplyJournal, intent_version, recover_intents
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.plan_reports import PlanReporter
from starform_apps.shuttle.planning import Planned, PlanStep
from starform_apps.shuttle.pull import Pulled, Puller
from starform_apps.shuttle.redact import Redactor
from starform_apps.shuttle.sender import ReportSender
from starform_apps.shuttle.status import StatusReporter
from starform_core.plan import Plan
from starform_core.ports.cluster import ClusterPort
from starform_core.reporting import ApplyReport, assess_apply

__all__ = ["ReconcileParts", "ReconcileResult", "Reconciler"]

_log = logging.getLogger("starform.shuttle")


@attrs.frozen
class ReconcileResult:
    """What one reconcile did; ``report`` is ``None`` when there was no payload to enforce."""

    pulled: Pulled
    held: HeldPayload | None
    planned: Planned | None
    execution: Execution | None
    report: ApplyReport | None
    applied_generation: int | None
    seconds: float

    @property
    def epoch(self) -> int | None:
        """The epoch of the payload enforced."""
        return self.held.version[0] if self.held is not None else None

    @property
    def generation(self) -> int | None:
        """The generation of the payload enforced."""
        return self.held.version[1] if self.held is not None else None

    @property
    def converged(self) -> bool:
        """True when the payload held is applied in full (nothing failed, nothing held)."""
        return self.report is not None and self.report.applied

    @property
    def outcome(self) -> str:
        """``applied``, ``held``, ``partial``, ``failed`` or ``no-payload``."""
        return self.report.outcome.value if self.report is not None else "no-payload"

    @property
    def plan(self) -> Plan | None:
        """The plan enforced."""
        return self.planned.result.plan if self.planned is not None else None

    @property
    def source_ok(self) -> bool:
        """True when Starbase answered this reconcile's pull."""
        return self.pulled.source_ok


@attrs.frozen
class ReconcileParts:
    """The parts a reconcile composes (built by :func:`~starform_apps.shuttle.app.bootstrap`)."""

    cluster: ClusterPort
    outbox: Outbox
    puller: Puller
    planner: PlanStep
    plan_reports: PlanReporter
    applied: AppliedState
    status: StatusReporter
    sender: ReportSender
    metrics: ShuttleMetrics


class Reconciler:
    """Runs reconciles, one at a time, with :class:`ReconcileParts`."""

    def __init__(
        self,
        parts: ReconcileParts,
        *,
        workers: int = 8,
        cancelled: Callable[[], bool] = lambda: False,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.parts = parts
        self._workers = workers
        self._cancelled = cancelled
        self._monotonic = monotonic
        self._now = now
        self._recovered = False
        self._redactor: tuple[str, Redactor] | None = None

    def reconcile(self, pulled: Pulled | None = None) -> ReconcileResult:
        """Run one reconcile on ``pulled`` (what the pull channel brought; ``None``: pull now);
        never raises for cluster or Starbase failures (they are reported)."""
        p = self.parts
        started = self._monotonic()
        with p.metrics.reconcile_seconds.time():
            self.recover()
            pulled = pulled if pulled is not None else p.puller.pull()
            held = p.puller.held
            if held is None:
                p.sender.drain()
                p.metrics.reconciles.labels(outcome="no-payload").inc()
                return ReconcileResult(pulled, None, None, None, None, None, self._monotonic() - started)
            if pulled.new_epoch:
                p.planner.forget()
            requested = pulled.reconcile_requests
            planned = p.planner.plan(
                held, allow_prune=pulled.source_ok, reuse=not requested, relist=bool(requested)
            )
            context = self._context(held, planned)
            p.plan_reports.report(planned, context)
            execution = self._execute(planned, context)
            records = [o.record for o in execution.outcomes] if execution is not None else []
            report = assess_apply(
                planned.result.plan, records, epoch=held.version[0], generation=held.version[1]
            )
            p.applied.record(held, report)
            p.status.report(
                held,
                p.applied,
                desired=planned.result.desired,
                rejected=p.puller.rejected,
                served=requested,
            )
            self._served(requested)
            p.sender.drain()
        p.metrics.reconciles.labels(outcome=report.outcome.value).inc()
        return ReconcileResult(
            pulled,
            held,
            planned,
            execution,
            report,
            p.applied.generation_in(held.version[0]),
            self._monotonic() - started,
        )

    def _served(self, requested: tuple[str, ...]) -> None:
        if requested:
            self.parts.metrics.reconcile_requests.labels(stage="served").inc(len(requested))
            _log.info("reconcile requests served", extra={"requests": list(requested)})

    def _context(self, held: HeldPayload, planned: Planned) -> ApplyContext:
        if self._redactor is None or self._redactor[0] != held.etag:
            self._redactor = (held.etag, Redactor.of(held.document))
        return ApplyContext(
            epoch=held.version[0],
            generation=held.version[1],
            restoring=self.parts.applied.restoring(held),
            services=planned.services,
            redact=self._redactor[1],
        )

    def recover(self) -> None:
        """Once, before the first pull: settle the events a crash left as intents, each from a
        plan of the payload it was made for."""
        if self._recovered:
            return
        self._recovered = True
        p = self.parts
        intents = p.outbox.intents()
        versions = {v for v in map(intent_version, intents) if v is not None}
        plans = {}
        for version in sorted(versions):
            payload = p.puller.payload_of(version)
            if payload is not None:
                plans[version] = p.planner.plan(payload, allow_prune=True, reuse=False).result.plan
        if intents:
            recover_intents(p.outbox, plans, now=self._now)
        p.puller.intents_settled()

    def _execute(self, planned: Planned, context: ApplyContext) -> Execution | None:
        actions = planned.result.plan.executable
        if not actions:
            return None
        _log.info(
            "applying",
            extra={"actions": len(actions), "epoch": context.epoch, "generation": context.generation},
        )
        journal = ApplyJournal(
            self.parts.outbox, self.parts.metrics, context, total=len(actions), now=self._now
        )
        return execute(
            self.parts.cluster, actions, workers=self._workers, journal=journal, cancelled=self._cancelled
        )
