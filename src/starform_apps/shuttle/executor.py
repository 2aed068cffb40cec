"""Execute a plan against the cluster: in order, with bounded concurrency, failures isolated.

Actions run phase by phase (the planner's apply order: namespaces and guard rails, then Secrets
and volumes, then workloads, then Services, routes and autoscalers; deletions last, in reverse).
Inside a phase they run concurrently. One failing object does not block unrelated ones; its
dependants wait: nothing is applied inside a namespace whose Namespace failed, no workload whose
pod template reads a Secret, ConfigMap or PersistentVolumeClaim that failed, and nothing of a
service whose earlier-phase object failed or was skipped.

A :class:`Journal` hears of every action before it is sent (and names the request id the API
server records) and of every outcome as soon as it is known, in the worker that ran it. Once
``cancelled()`` turns true (shutdown), no further action starts; those left are ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any, Protocol

import attrs

from starform_core.errors import ClusterApiError
from starform_core.kube.labels import service_id_of
from starform_core.kube.objects import ObjectKey
from starform_core.kube.ordering import apply_rank
from starform_core.plan import (
    Action,
    ActionKind,
    Conflict,
    Create,
    Delete,
    DriftDetected,
    Held,
    RemoveFields,
    Update,
)
from starform_core.ports.cluster import ClusterPort
from starform_core.reporting import ActionRecord, ActionResult

__all__ = ["ActionOutcome", "Execution", "Journal", "body_of", "execute", "service_of"]


@attrs.frozen
class ActionOutcome:
    """What happened to one action.

    ``status`` is the HTTP status of a failure (``0``: no complete answer, the outcome is
    unknown); ``request_id`` the ``Audit-ID`` it was sent with.
    """

    action: Action
    result: ActionResult
    error: str = ""
    status: int | None = None
    retry_after: float | None = None
    request_id: str | None = None

    @property
    def reason(self) -> str:
        """Why it did not succeed: ``http-<status>``, ``transport-error``, ``dependency-failed``,
        ``shutdown`` (empty when it succeeded)."""
        match self.result:
            case ActionResult.OK:
                return ""
            case ActionResult.SKIPPED:
                return "dependency-failed"
            case ActionResult.CANCELLED:
                return "shutdown"
            case ActionResult.FAILED:
                return "transport-error" if not self.status else f"http-{self.status}"

    @property
    def record(self) -> ActionRecord:
        """The core's view of this outcome (for the apply report)."""
        return ActionRecord(self.action, self.result, self.reason)


class Journal(Protocol):
    """Hears of each action before it is sent and of its outcome once known (thread-safe)."""

    def begin(self, action: Action) -> str:
        """Record that ``action`` is about to be sent; returns its request id."""
        ...

    def end(self, outcome: ActionOutcome) -> None:
        """Record the outcome of an action (sent or not)."""
        ...


@attrs.frozen
class Execution:
    """The outcomes of a plan's executable actions."""

    outcomes: tuple[ActionOutcome, ...] = ()

    def _with(self, result: ActionResult) -> tuple[ActionOutcome, ...]:
        return tuple(o for o in self.outcomes if o.result is result)

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        """Actions that failed."""
        return self._with(ActionResult.FAILED)

    @property
    def skipped(self) -> tuple[ActionOutcome, ...]:
        """Actions not attempted because something they depend on failed."""
        return self._with(ActionResult.SKIPPED)

    @property
    def complete(self) -> bool:
        """True when every action succeeded."""
        return all(o.result is ActionResult.OK for o in self.outcomes)

    @property
    def retry_after(self) -> float | None:
        """The largest ``Retry-After`` the API server asked for, if any."""
        hints = [o.retry_after for o in self.outcomes if o.retry_after is not None]
        return max(hints) if hints else None


def _phase(action: Action) -> tuple[int, int]:
    rank = apply_rank(action.key)
    return (1, -rank) if action.kind is ActionKind.DELETE else (0, rank)


def body_of(action: Action) -> Mapping[str, Any] | None:
    """The object an action applies (``None`` for removals of fields, deletions and reports)."""
    match action:
        case Create(body=body) | Update(body=body):
            return body
        case RemoveFields() | Delete() | Held() | Conflict() | DriftDetected():
            return None


def service_of(action: Action) -> str | None:
    """The service whose object an action applies (its label in the body; ``None`` for bodiless
    actions, whose service only the live object tells)."""
    body = body_of(action)
    return None if body is None else service_id_of(body)


def _pod_spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = body.get("spec") or {}
    if body.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec") or {}) if isinstance(spec, Mapping) else {}


def _reads(action: Action) -> set[tuple[str, str, str]]:
    """The (kind, namespace, name) of the Secrets, ConfigMaps and claims a workload's pods read."""
    body = body_of(action)
    if body is None:
        return set()
    pod = _pod_spec(body)
    namespace = action.key.namespace
    found: set[tuple[str, str, str]] = set()
    for container in [*(pod.get("initContainers") or ()), *(pod.get("containers") or ())]:
        for source in container.get("envFrom") or ():
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if (source.get(field) or {}).get("name"):
                    found.add((kind, namespace, str(source[field]["name"])))
        for env in container.get("env") or ():
            ref = env.get("valueFrom") or {}
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if (ref.get(field) or {}).get("name"):
                    found.add((kind, namespace, str(ref[field]["name"])))
    for volume in pod.get("volumes") or ():
        for field, kind, name_field in (
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "claimName"),
        ):
            if (volume.get(field) or {}).get(name_field):
                found.add((kind, namespace, str(volume[field][name_field])))
    return found


def _run_one(cluster: ClusterPort, action: Action, request_id: str | None) -> None:
    match action:
        case Create(body=body):
            cluster.apply(body, force=False, request_id=request_id)
        case Update(body=body, partial=partial):
            # force only on objects Shuttle owns; a partial (the load-balancer annotation on an
            # object another controller owns) never takes a field from another manager
            cluster.apply(body, force=not partial, request_id=request_id)
        case RemoveFields(key=key, paths=paths, guards=guards):
            cluster.remove_fields(key, paths, guards=guards, request_id=request_id)
        case Delete(key=key, uid=uid):
            cluster.delete(key, uid=uid, request_id=request_id)
        case Held() | Conflict() | DriftDetected():
            raise ValueError(f"{action.kind.value} is a report, not an executable action")


class _Blocks:
    """What failed so far in one execution, and whether an action depends on it."""

    def __init__(self) -> None:
        self.namespaces: set[str] = set()
        self.services: set[tuple[str, str]] = set()
        self.objects: set[tuple[str, str, str]] = set()

    def blocked(self, action: Action) -> bool:
        key: ObjectKey = action.key
        if action.kind is ActionKind.DELETE:
            return False
        if key.namespace in self.namespaces:
            return True
        service = service_of(action)
        if service is not None and (key.namespace, service) in self.services:
            return True
        return bool(self.objects and _reads(action) & self.objects)

    def note(self, outcome: ActionOutcome) -> None:
        if outcome.result is ActionResult.OK:
            return
        key = outcome.action.key
        if key.kind == "Namespace":
            self.namespaces.add(key.name)
        self.objects.add((key.kind, key.namespace, key.name))
        service = service_of(outcome.action)
        if service is not None:
            self.services.add((key.namespace, service))


def _attempt(
    cluster: ClusterPort, action: Action, journal: Journal | None, cancelled: Callable[[], bool]
) -> ActionOutcome:
    if cancelled():
        outcome = ActionOutcome(action=action, result=ActionResult.CANCELLED, error="shutting down")
    else:
        request_id = journal.begin(action) if journal is not None else None
        try:
            _run_one(cluster, action, request_id)
        except ClusterApiError as exc:
            outcome = ActionOutcome(
                action=action,
                result=ActionResult.FAILED,
                error=str(exc),
                status=exc.status,
                retry_after=exc.retry_after,
                request_id=request_id,
            )
        else:
            outcome = ActionOutcome(action=action, result=ActionResult.OK, request_id=request_id)
    if journal is not None:
        journal.end(outcome)
    return outcome


def execute(
    cluster: ClusterPort,
    actions: Sequence[Action],
    *,
    workers: int = 8,
    journal: Journal | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Execution:
    """Run ``actions`` (already in plan order) and return every outcome."""
    outcomes: list[ActionOutcome] = []
    blocks = _Blocks()
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="apply") as pool:
        for _, group in groupby(actions, key=_phase):
            batch = list(group)
            runnable = [a for a in batch if not blocks.blocked(a)]
            chosen = {id(a) for a in runnable}
            results = list(pool.map(lambda a: _attempt(cluster, a, journal, cancelled), runnable))
            for action in batch:
                if id(action) not in chosen:
                    skipped = ActionOutcome(
                        action=action, result=ActionResult.SKIPPED, error="a dependency failed"
                    )
                    if journal is not None:
                        journal.end(skipped)
                    results.append(skipped)
            for outcome in results:
                blocks.note(outcome)
            outcomes.extend(results)
    return Execution(outcomes=tuple(outcomes))
