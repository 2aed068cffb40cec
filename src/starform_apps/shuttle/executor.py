"""Execute a plan against the cluster: in order, with bounded concurrency, failures isolated.

Actions run phase by phase (the planner's apply order: namespaces and guard rails, then Secrets
and volumes, then workloads, then Services, routes and autoscalers; deletions last, in reverse).
Inside a phase they run concurrently. One failing object does not block unrelated ones; its
dependants wait: nothing is applied inside a namespace whose Namespace failed, no workload whose
pod template reads a Secret, ConfigMap or PersistentVolumeClaim that failed, and nothing of a
service whose earlier-phase object failed or was skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any

import attrs

from starform_core.errors import ClusterApiError
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import ObjectKey
from starform_core.kube.ordering import apply_rank
from starform_core.plan import Action, ActionKind, Create, Delete, RemoveFields, Update
from starform_core.ports.cluster import ClusterPort

__all__ = ["ActionOutcome", "Execution", "execute"]


@attrs.frozen
class ActionOutcome:
    """What happened to one action: ``ok``, ``failed`` (with the error) or ``skipped``.

    ``skipped`` means an object it depends on failed earlier in the same execution.
    """

    action: Action
    result: str
    error: str = ""
    retry_after: float | None = None


@attrs.frozen
class Execution:
    """The outcomes of a plan's executable actions."""

    outcomes: tuple[ActionOutcome, ...] = ()

    @property
    def failed(self) -> tuple[ActionOutcome, ...]:
        """Actions that failed."""
        return tuple(o for o in self.outcomes if o.result == "failed")

    @property
    def skipped(self) -> tuple[ActionOutcome, ...]:
        """Actions not attempted because something they depend on failed."""
        return tuple(o for o in self.outcomes if o.result == "skipped")

    @property
    def complete(self) -> bool:
        """True when every action succeeded."""
        return all(o.result == "ok" for o in self.outcomes)

    @property
    def retry_after(self) -> float | None:
        """The largest ``Retry-After`` the API server asked for, if any."""
        hints = [o.retry_after for o in self.outcomes if o.retry_after is not None]
        return max(hints) if hints else None


def _phase(action: Action) -> tuple[int, int]:
    rank = apply_rank(action.key)
    return (1, -rank) if action.kind is ActionKind.DELETE else (0, rank)


def _service_of(action: Action) -> str | None:
    body = getattr(action, "body", None)
    if body is None:
        return None
    labels = (body.get("metadata") or {}).get("labels") or {}
    value = labels.get(LABEL_SERVICE_ID)
    return str(value) if value else None


def _pod_spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = body.get("spec") or {}
    if body.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec") or {}) if isinstance(spec, Mapping) else {}


def _reads(action: Action) -> set[tuple[str, str, str]]:
    """The (kind, namespace, name) of the Secrets, ConfigMaps and claims a workload's pods read."""
    body = getattr(action, "body", None)
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


def _run_one(cluster: ClusterPort, action: Action) -> None:
    if isinstance(action, Create):
        cluster.apply(action.body, force=False)
    elif isinstance(action, Update):
        # force only on objects Shuttle owns; a partial (the load-balancer annotation on an object
        # another controller owns) never takes a field from another manager: that is a conflict
        cluster.apply(action.body, force=not action.partial)
    elif isinstance(action, RemoveFields):
        cluster.remove_fields(action.key, action.paths, guards=action.guards)
    elif isinstance(action, Delete):
        cluster.delete(action.key, uid=action.uid)


def execute(
    cluster: ClusterPort,
    actions: Sequence[Action],
    *,
    workers: int = 8,
    on_outcome: Callable[[ActionOutcome], None] | None = None,
) -> Execution:
    """Run ``actions`` (already in plan order) and return every outcome."""
    outcomes: list[ActionOutcome] = []
    failed_namespaces: set[str] = set()
    failed_services: set[tuple[str, str]] = set()
    failed_objects: set[tuple[str, str, str]] = set()

    def blocked(action: Action) -> bool:
        key: ObjectKey = action.key
        if action.kind is ActionKind.DELETE:
            return False
        if key.namespace in failed_namespaces:
            return True
        service = _service_of(action)
        if service is not None and (key.namespace, service) in failed_services:
            return True
        return bool(failed_objects and _reads(action) & failed_objects)

    def attempt(action: Action) -> ActionOutcome:
        try:
            _run_one(cluster, action)
        except ClusterApiError as exc:
            return ActionOutcome(action=action, result="failed", error=str(exc), retry_after=exc.retry_after)
        return ActionOutcome(action=action, result="ok")

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="apply") as pool:
        for _, group in groupby(actions, key=_phase):
            batch = list(group)
            runnable = [a for a in batch if not blocked(a)]
            results = list(pool.map(attempt, runnable))
            results += [
                ActionOutcome(action=a, result="skipped", error="a dependency failed")
                for a in batch
                if blocked(a)
            ]
            for outcome in results:
                if outcome.result != "ok":
                    key = outcome.action.key
                    if key.kind == "Namespace":
                        failed_namespaces.add(key.name)
                    failed_objects.add((key.kind, key.namespace, key.name))
                    service = _service_of(outcome.action)
                    if service is not None:
                        failed_services.add((key.namespace, service))
                if on_outcome is not None:
                    on_outcome(outcome)
            outcomes.extend(results)
    return Execution(outcomes=tuple(outcomes))
