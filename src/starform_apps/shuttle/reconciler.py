"""One reconcile: pull → parse → render → plan against the cache → apply in order → report.

Level-driven and idempotent: every reconcile recomputes from scratch, so a crash anywhere is
repaired by the next one. A ``304`` with nothing drifted costs no Kubernetes write and no LIST.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from starform_apps.shuttle.events import EventBuffer
from starform_apps.shuttle.executor import ActionOutcome, Execution, execute
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.state import LastGood, StateDir
from starform_core.errors import ClusterApiError, ContractError, DesiredStateSourceError
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, key_of
from starform_core.payload import DesiredState, parse_payload
from starform_core.plan import Action, ActionKind, Plan, PlanOptions, plan
from starform_core.ports.cluster import ClusterPort
from starform_core.ports.source import DesiredStateSource, Fetched
from starform_core.render import Rendering, render

__all__ = ["ReconcileResult", "Reconciler"]

_log = logging.getLogger("starform.shuttle")

ServiceHealthFn = Callable[[Sequence[KubeObject]], Mapping[str, tuple[str, str]]]
"""Health per service id as (health, reason), from live objects."""


@attrs.frozen
class ReconcileResult:
    """What one reconcile did."""

    generation: int | None
    plan: Plan | None
    execution: Execution | None
    source_ok: bool
    payload_changed: bool
    seconds: float

    @property
    def converged(self) -> bool:
        """True when there was a payload and every action it needed succeeded."""
        if self.plan is None:
            return False
        if self.execution is None:
            return not self.plan.executable
        return self.execution.complete


@attrs.define
class _Progress:
    """Counts executed actions; :meth:`advance` says when to log (every ``step``, and at the end)."""

    total: int
    step: int
    done: int = 0

    def advance(self) -> bool:
        self.done += 1
        return self.total >= self.step and (self.done % self.step == 0 or self.done == self.total)


class Reconciler:
    """Holds the last good payload and turns it into cluster state, one reconcile at a time."""

    def __init__(
        self,
        *,
        source: DesiredStateSource,
        cluster: ClusterPort,
        state: StateDir,
        events: EventBuffer,
        metrics: ShuttleMetrics,
        health: ServiceHealthFn,
        workers: int = 8,
        status_heartbeat_seconds: float = 300.0,
        full_plan_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._source = source
        self._cluster = cluster
        self._state = state
        self._events = events
        self._metrics = metrics
        self._health = health
        self._workers = workers
        self._heartbeat = status_heartbeat_seconds
        self._full_plan_every = full_plan_seconds
        self._last_gate: tuple[object, ...] | None = None
        self._last_plan: Plan | None = None
        self._last_full_plan_at = 0.0
        self._health_revision: int | None = None
        self._progress = _Progress(total=0, step=1)
        self._last_health: Mapping[str, tuple[str, str]] = {}
        self._monotonic = monotonic
        self._now = now
        self._payload: DesiredState | None = None
        self._etag: str | None = None
        self._rendering: Rendering | None = None
        self._applied = state.load_applied_generation()
        self._source_down = False
        self._last_status: tuple[int | None, tuple[tuple[str, str, str], ...]] | None = None
        self._last_status_at = 0.0
        self._missing_kinds_reported: set[str] = set()
        self._rejected_etag: str | None = None
        self.last_pull_error: str | None = None
        """Why the last pull gave no new payload (Starbase unreachable, refused, invalid, stale)."""
        last = state.load_last_good()
        if last is not None:
            try:
                self._accept(parse_payload(last.body), etag=last.etag)
            except ContractError:
                _log.warning("the stored payload no longer parses; waiting for Starbase")

    # state -------------------------------------------------------------------------------------
    @property
    def payload(self) -> DesiredState | None:
        """The payload being enforced (the last good one)."""
        return self._payload

    @property
    def applied_generation(self) -> int | None:
        """The generation last applied in full."""
        return self._applied

    def _accept(self, document: DesiredState, *, etag: str) -> None:
        self._payload = document
        self._etag = etag
        self._rendering = render(document)
        self._metrics.desired_generation.set(document.generation)

    # the reconcile -------------------------------------------------------------------------------
    def reconcile(self) -> ReconcileResult:
        """Run one reconcile; never raises for cluster or Starbase failures (they are reported)."""
        started = self._monotonic()
        with self._metrics.reconcile_seconds.time():
            source_ok, changed = self._pull()
            if self._payload is None or self._rendering is None:
                self._flush()
                return ReconcileResult(None, None, None, source_ok, changed, self._monotonic() - started)
            the_plan, execution = self._converge(source_ok=source_ok)
            self._report_status()
            self._flush()
        result = ReconcileResult(
            self._payload.generation, the_plan, execution, source_ok, changed, self._monotonic() - started
        )
        self._metrics.reconciles.labels(result="converged" if result.converged else "pending").inc()
        if result.converged:
            self._metrics.last_success.set(self._now().timestamp())
        return result

    def _pull(self) -> tuple[bool, bool]:
        try:
            fetched = self._source.fetch(etag=self._etag)
        except DesiredStateSourceError as exc:
            self.last_pull_error = str(exc)
            self._metrics.starbase_up.set(0)
            if not self._source_down:
                self._source_down = True
                self._events.record("ReconcileDeferred", reason="starbase-unreachable", message=str(exc))
                _log.warning("starbase unreachable, enforcing the last good payload: %s", exc)
            return False, False
        self._metrics.starbase_up.set(1)
        self._source_down = False
        self.last_pull_error = None
        if not isinstance(fetched, Fetched):
            return True, False
        if fetched.etag == self._rejected_etag:
            return True, False  # the same bad payload again: rejected and reported already
        try:
            document = parse_payload(fetched.body)
        except ContractError as exc:
            self.last_pull_error = f"invalid payload at {exc.pointer or '/'}: {exc.reason}"
            self._rejected_etag = fetched.etag
            self._metrics.payload_rejected.labels(reason="invalid").inc()
            self._events.record(
                "PayloadRejected",
                reason="invalid",
                message=f"{exc.pointer or '/'}: {exc.reason}",
                data={"pointer": exc.pointer, "etag": fetched.etag},
            )
            _log.error("payload rejected at %s: %s", exc.pointer or "/", exc.reason)
            return True, False
        floor = max(self._applied or 0, self._payload.generation if self._payload else 0)
        if document.generation < floor:
            self.last_pull_error = f"stale payload: generation {document.generation} is older than {floor}"
            self._rejected_etag = fetched.etag
            self._metrics.payload_rejected.labels(reason="stale").inc()
            self._events.record(
                "PayloadRejected",
                reason="stale",
                message=f"generation {document.generation} is older than {floor}",
                data={"offered": document.generation, "applied": floor},
            )
            return True, False
        self._state.save_last_good(LastGood(body=fetched.body, etag=fetched.etag))
        self._accept(document, etag=fetched.etag)
        return True, True

    def _desired(self) -> tuple[list[KubeObject], list[KubeObject]]:
        assert self._rendering is not None
        objects: list[KubeObject] = []
        for obj in self._rendering.objects:
            key = key_of(obj)
            if self._cluster.supports(key):
                objects.append(obj)
            elif key.kind not in self._missing_kinds_reported:
                self._missing_kinds_reported.add(key.kind)
                self._events.record(
                    "ReconcileDeferred",
                    reason="kind-not-served",
                    message=f"{key.kind}.{key.group} is not served by this cluster (is its CRD installed?)",
                )
        return objects, list(self._rendering.partials)

    def _converge(self, *, source_ok: bool) -> tuple[Plan, Execution | None]:
        assert self._payload is not None
        assert self._rendering is not None
        desired, partials = self._desired()
        revision = self._cluster.revision()  # read before the snapshot: a later change re-plans
        targets: list[KubeObject] = []
        for partial in partials:
            try:
                target = self._cluster.get(key_of(partial))
            except ClusterApiError:
                target = None
            if target is not None:
                targets.append(target)
        versions = tuple(str((t.get("metadata") or {}).get("resourceVersion", "")) for t in targets)
        # plan() is a pure function of (payload, live view, prune permission): when none of them
        # changed since a plan that needed nothing, that plan still holds. A full plan still runs
        # every ``full_plan_seconds`` as a safety net.
        gate = (self._etag, revision, versions, source_ok)
        last = self._last_plan
        fresh_enough = self._monotonic() - self._last_full_plan_at < self._full_plan_every
        if gate == self._last_gate and last is not None and not last.executable and fresh_enough:
            self._mark_applied()
            return last, None
        live = [*self._cluster.live_objects(), *targets]
        options = PlanOptions(
            drift_policies=self._rendering.drift_policies,
            prune_policy=self._payload.cluster.prune,
            allow_prune=source_ok,
        )
        the_plan = plan(desired, live, partials=partials, options=options)
        self._last_gate, self._last_plan = gate, the_plan
        self._last_full_plan_at = self._monotonic()
        self._metrics.prune_held.set(1 if the_plan.prune_held else 0)
        self._record_reports(the_plan)
        if not the_plan.executable:
            self._mark_applied()
            return the_plan, None
        total = len(the_plan.executable)
        self._progress = _Progress(total=total, step=max(100, total // 10))
        _log.info("applying %d actions for generation %d", total, self._payload.generation)
        execution = execute(
            self._cluster, the_plan.executable, workers=self._workers, on_outcome=self._on_outcome
        )
        if execution.complete:
            self._mark_applied()
        return the_plan, execution

    def _mark_applied(self) -> None:
        assert self._payload is not None
        generation = self._payload.generation
        if self._applied != generation:
            self._applied = generation
            self._state.save_applied_generation(generation)
            self._events.record("GenerationApplied", reason="converged", data={"generation": generation})
        self._metrics.applied_generation.set(generation)

    def _record_reports(self, the_plan: Plan) -> None:
        for action in the_plan.actions:
            if action.kind is ActionKind.DRIFT_DETECTED:
                self._metrics.drift.labels(mode="detect").inc()
                self._event_for(action, "DriftDetected")
            elif action.kind is ActionKind.CONFLICT:
                self._event_for(action, "ObjectConflict")
        if the_plan.prune_held:
            self._events.record(
                "PruneHeld",
                reason=str(the_plan.prune.reason.value if the_plan.prune.reason else "held"),
                message=(
                    f"{the_plan.prune.would_delete} of {the_plan.prune.owned} owned objects would be deleted"
                ),
                data={"would_delete": the_plan.prune.would_delete, "owned": the_plan.prune.owned},
            )

    def _on_outcome(self, outcome: ActionOutcome) -> None:
        if self._progress.advance():
            _log.info("applied %d/%d actions", self._progress.done, self._progress.total)
        action = outcome.action
        self._metrics.actions.labels(kind=action.kind.value, result=outcome.result).inc()
        if outcome.result != "ok":
            self._event_for(action, "ReconcileFailed", message=outcome.error)
            return
        reason = getattr(action.reason, "value", str(action.reason))
        restored = (
            action.kind is ActionKind.CREATE
            and self._payload is not None
            and self._applied == self._payload.generation
        )
        if reason == "drifted" or action.kind is ActionKind.REMOVE_FIELDS or restored:
            # a create for a generation already applied in full restores an object deleted out of band
            self._metrics.drift.labels(mode="enforce").inc()
            self._event_for(action, "DriftReverted")
        elif action.kind is ActionKind.DELETE:
            self._event_for(action, "Pruned")
        else:
            self._event_for(action, "Applied")

    def _event_for(self, action: Action, type_: str, *, message: str = "") -> None:
        changes = [
            {k: v for k, v in attrs.asdict(change).items() if v not in (None, False, "")}
            for change in getattr(action, "changes", ())
        ]
        body = getattr(action, "body", None)
        labels = ((body or {}).get("metadata") or {}).get("labels") or {}
        service_id = labels.get(LABEL_SERVICE_ID)
        data: dict[str, Any] = {"object": str(action.key), "action": action.kind.value}
        if changes:
            data["fields"] = changes
        self._events.record(
            type_,
            reason=str(getattr(action.reason, "value", action.reason)),
            message=message or f"{action.kind.value} {action.key}",
            service_id=str(service_id) if service_id else None,
            data=data,
        )

    def _report_status(self) -> None:
        revision = self._cluster.revision()
        if revision != self._health_revision:
            # health is a pure function of the live view: assess it only when the view changed
            live = [*self._cluster.live_objects(), *self._cluster.health_objects()]
            self._last_health = self._health(live)
            self._health_revision = revision
        health = self._last_health
        snapshot = (self._applied, tuple(sorted((sid, h, r) for sid, (h, r) in health.items())))
        due = self._monotonic() - self._last_status_at >= self._heartbeat
        if snapshot == self._last_status and not due:
            return
        observed = self._now().isoformat()
        services = [
            {
                "service_id": sid,
                "health": h,
                "reason": r,
                "generation": self._applied or 0,
                "observed_at": observed,
                "status": {},
            }
            for sid, h, r in snapshot[1]
        ]
        try:
            self._source.report_status(applied_generation=self._applied, services=services)
        except DesiredStateSourceError as exc:
            _log.info("status report deferred: %s", exc)
            return
        self._last_status = snapshot
        self._last_status_at = self._monotonic()

    def _flush(self) -> None:
        self._events.flush(self._source)
        self._metrics.events_pending.set(len(self._events))
