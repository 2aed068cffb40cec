"""Per-object health, kstatus-like: Current, InProgress, Failed, Terminating or Suspended.

Rules: ``metadata.deletionTimestamp`` → Terminating; ``generation`` ahead of
``status.observedGeneration`` → InProgress; then per kind (Deployment, StatefulSet, CronJob, Job,
Pod, PersistentVolumeClaim, Service, HTTPRoute, HorizontalPodAutoscaler); any other kind is
Current. A workload whose pods fail (see :mod:`.pods`) is Failed with the pod's reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from starform_core.health.batch import assess_cronjob, assess_job
from starform_core.health.pods import FAILING_WAIT_REASONS, assess_pod, condition, pods_failure
from starform_core.health.status import ObjectHealth, ObjectStatus
from starform_core.kube.objects import KubeObject

__all__ = ["FAILING_WAIT_REASONS", "assess_object"]

_CURRENT: Final = ObjectHealth(ObjectStatus.CURRENT, "ready")


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _deployment(obj: KubeObject, pods: Iterable[KubeObject]) -> ObjectHealth:
    progressing = condition(obj, "Progressing")
    if (
        progressing
        and progressing.get("status") == "False"
        and progressing.get("reason") == "ProgressDeadlineExceeded"
    ):
        return ObjectHealth(ObjectStatus.FAILED, "progress deadline exceeded")
    failure = pods_failure(pods)
    if failure:
        return failure
    spec = obj.get("spec") or {}
    if spec.get("paused") is True:
        return ObjectHealth(ObjectStatus.SUSPENDED, "rollout paused")
    status = obj.get("status") or {}
    want = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    ready = _int(status.get("readyReplicas"))
    available = _int(status.get("availableReplicas"))
    total = _int(status.get("replicas"))
    if updated < want:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, f"{updated} of {want} replicas updated")
    if total > updated:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, f"{total - updated} old replicas pending termination")
    if ready < want or available < want:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, f"{min(ready, available)} of {want} replicas available")
    if want == 0:
        return ObjectHealth(ObjectStatus.CURRENT, "scaled to zero")
    return ObjectHealth(ObjectStatus.CURRENT, f"{want} of {want} replicas available")


def _statefulset(obj: KubeObject, pods: Iterable[KubeObject]) -> ObjectHealth:
    failure = pods_failure(pods)
    if failure:
        return failure
    want = _int((obj.get("spec") or {}).get("replicas"), 1)
    status = obj.get("status") or {}
    ready = _int(status.get("readyReplicas"))
    updated = _int(status.get("updatedReplicas"))
    if ready < want or updated < want:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, f"{ready} of {want} replicas ready")
    return ObjectHealth(ObjectStatus.CURRENT, f"{want} of {want} replicas ready")


def _pvc(obj: KubeObject, _pods: Iterable[KubeObject]) -> ObjectHealth:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return ObjectHealth(ObjectStatus.CURRENT, "bound")
    if phase == "Lost":
        return ObjectHealth(ObjectStatus.FAILED, "claim lost its volume")
    return ObjectHealth(ObjectStatus.IN_PROGRESS, "waiting for a volume")


def _service(obj: KubeObject, _pods: Iterable[KubeObject]) -> ObjectHealth:
    if (obj.get("spec") or {}).get("type") == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if not ingress:
            return ObjectHealth(ObjectStatus.IN_PROGRESS, "waiting for a load balancer address")
    return _CURRENT


def _httproute(obj: KubeObject, _pods: Iterable[KubeObject]) -> ObjectHealth:
    parents = (obj.get("status") or {}).get("parents") or ()
    if not parents:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, "not yet accepted by a gateway")
    for parent in parents:
        for found in (parent.get("conditions") if isinstance(parent, Mapping) else None) or ():
            if found.get("type") in ("Accepted", "ResolvedRefs") and found.get("status") == "False":
                reason = found.get("reason") or found["type"]
                return ObjectHealth(ObjectStatus.FAILED, f"route {found['type']}=False: {reason}")
    return ObjectHealth(ObjectStatus.CURRENT, "accepted")


def _hpa(obj: KubeObject, _pods: Iterable[KubeObject]) -> ObjectHealth:
    """An autoscaler that cannot scale, or cannot compute its metrics, has failed (Argo CD)."""
    able = condition(obj, "AbleToScale")
    active = condition(obj, "ScalingActive")
    if able is None and active is None:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, "waiting for the autoscaler's first assessment")
    if able is not None and able.get("status") == "False":
        return ObjectHealth(ObjectStatus.FAILED, f"AbleToScale=False: {able.get('reason') or 'unknown'}")
    if active is not None and active.get("status") == "False":
        if active.get("reason") == "ScalingDisabled":
            return ObjectHealth(ObjectStatus.CURRENT, "scaling disabled (the target is scaled to zero)")
        return ObjectHealth(ObjectStatus.FAILED, f"ScalingActive=False: {active.get('reason') or 'unknown'}")
    status = obj.get("status") or {}
    current = _int(status.get("currentReplicas"))
    desired = _int(status.get("desiredReplicas"), current)
    return ObjectHealth(ObjectStatus.CURRENT, f"{current} replicas (autoscaler wants {desired})")


_BY_KIND: Final[dict[str, Callable[[KubeObject, Iterable[KubeObject]], ObjectHealth]]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "Job": assess_job,
    "Pod": lambda obj, _pods: assess_pod(obj),
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "HTTPRoute": _httproute,
    "HorizontalPodAutoscaler": _hpa,
}


def assess_object(
    obj: KubeObject, *, pods: Iterable[KubeObject] = (), jobs: Iterable[KubeObject] = ()
) -> ObjectHealth:
    """The health of one live object; ``pods`` (and, for a CronJob, ``jobs``) are its children."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return ObjectHealth(ObjectStatus.TERMINATING, f"deleting since {metadata['deletionTimestamp']}")
    generation = metadata.get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed is not None and _int(observed) < _int(generation):
        return ObjectHealth(
            ObjectStatus.IN_PROGRESS, f"generation {generation} not yet observed (at {observed})"
        )
    kind = str(obj.get("kind", ""))
    if kind == "CronJob":
        return assess_cronjob(obj, tuple(pods), tuple(jobs))
    judge = _BY_KIND.get(kind)
    return judge(obj, tuple(pods)) if judge else _CURRENT
