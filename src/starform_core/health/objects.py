"""Per-object health, kstatus-like: Current, InProgress, Failed or Terminating, with a reason.

Rules: ``metadata.deletionTimestamp`` → Terminating; ``generation`` ahead of
``status.observedGeneration`` → InProgress; then per kind (Deployment, StatefulSet, CronJob, Job,
Pod, PersistentVolumeClaim, Service, HTTPRoute); any other kind is Current. A workload whose pods
wait with ImagePullBackOff, ErrImagePull, CrashLoopBackOff, CreateContainerConfigError (and the
like) is Failed with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from starform_core.health.status import ObjectHealth, ObjectStatus
from starform_core.kube.objects import KubeObject

__all__ = ["FAILING_WAIT_REASONS", "assess_object"]

FAILING_WAIT_REASONS: Final = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)
"""Container waiting reasons that will not fix themselves: the pod (and workload) has failed."""

_CURRENT: Final = ObjectHealth(ObjectStatus.CURRENT, "ready")


def _condition(obj: KubeObject, kind: str) -> Mapping[str, Any] | None:
    for condition in (obj.get("status") or {}).get("conditions") or ():
        if condition.get("type") == kind:
            return condition  # type: ignore[no-any-return]
    return None


def _failing_container(pod: KubeObject) -> str | None:
    status = pod.get("status") or {}
    for group in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(group) or ():
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in FAILING_WAIT_REASONS:
                return f"container {container.get('name')}: {waiting['reason']}"
    return None


def _pods_failure(pods: Iterable[KubeObject]) -> ObjectHealth | None:
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        reason = _failing_container(pod)
        if reason:
            name = (pod.get("metadata") or {}).get("name")
            return ObjectHealth(ObjectStatus.FAILED, f"pod {name}: {reason}")
    return None


def _deployment(obj: KubeObject, pods: Iterable[KubeObject]) -> ObjectHealth:
    progressing = _condition(obj, "Progressing")
    if (
        progressing
        and progressing.get("status") == "False"
        and progressing.get("reason") == "ProgressDeadlineExceeded"
    ):
        return ObjectHealth(ObjectStatus.FAILED, "progress deadline exceeded")
    failure = _pods_failure(pods)
    if failure:
        return failure
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    want = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0))
    ready = int(status.get("readyReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
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
    failure = _pods_failure(pods)
    if failure:
        return failure
    want = int((obj.get("spec") or {}).get("replicas", 1))
    status = obj.get("status") or {}
    ready = int(status.get("readyReplicas", 0))
    updated = int(status.get("updatedReplicas", 0))
    if ready < want or updated < want:
        return ObjectHealth(ObjectStatus.IN_PROGRESS, f"{ready} of {want} replicas ready")
    return ObjectHealth(ObjectStatus.CURRENT, f"{want} of {want} replicas ready")


def _cronjob(obj: KubeObject, pods: Iterable[KubeObject]) -> ObjectHealth:
    if (obj.get("spec") or {}).get("suspend"):
        return ObjectHealth(ObjectStatus.CURRENT, "suspended")
    failure = _pods_failure(pods)
    if failure:
        return failure
    last = (obj.get("status") or {}).get("lastScheduleTime")
    return ObjectHealth(ObjectStatus.CURRENT, f"last scheduled at {last}" if last else "not scheduled yet")


def _job(obj: KubeObject, pods: Iterable[KubeObject]) -> ObjectHealth:
    failed = _condition(obj, "Failed")
    if failed and failed.get("status") == "True":
        return ObjectHealth(ObjectStatus.FAILED, f"job failed: {failed.get('reason', 'unknown')}")
    complete = _condition(obj, "Complete")
    if complete and complete.get("status") == "True":
        return ObjectHealth(ObjectStatus.CURRENT, "job complete")
    failure = _pods_failure(pods)
    return failure or ObjectHealth(ObjectStatus.IN_PROGRESS, "job running")


def _pod(obj: KubeObject, _pods: Iterable[KubeObject]) -> ObjectHealth:
    reason = _failing_container(obj)
    if reason:
        return ObjectHealth(ObjectStatus.FAILED, reason)
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Failed":
        return ObjectHealth(ObjectStatus.FAILED, "pod failed")
    if phase == "Succeeded":
        return ObjectHealth(ObjectStatus.CURRENT, "pod succeeded")
    ready = _condition(obj, "Ready")
    if phase == "Running" and ready and ready.get("status") == "True":
        return ObjectHealth(ObjectStatus.CURRENT, "running and ready")
    return ObjectHealth(ObjectStatus.IN_PROGRESS, f"pod {str(phase or 'pending').lower()}")


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
        for condition in parent.get("conditions") or ():
            if condition.get("type") in ("Accepted", "ResolvedRefs") and condition.get("status") == "False":
                reason = condition.get("reason") or condition["type"]
                return ObjectHealth(ObjectStatus.FAILED, f"route {condition['type']}=False: {reason}")
    return ObjectHealth(ObjectStatus.CURRENT, "accepted")


_BY_KIND: Final[dict[str, Callable[[KubeObject, Iterable[KubeObject]], ObjectHealth]]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "CronJob": _cronjob,
    "Job": _job,
    "Pod": _pod,
    "PersistentVolumeClaim": _pvc,
    "Service": _service,
    "HTTPRoute": _httproute,
}


def assess_object(obj: KubeObject, *, pods: Iterable[KubeObject] = ()) -> ObjectHealth:
    """The health of one live object; ``pods`` are the workload's pods, if known."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return ObjectHealth(ObjectStatus.TERMINATING, f"deleting since {metadata['deletionTimestamp']}")
    generation = metadata.get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    if generation is not None and observed is not None and int(observed) < int(generation):
        return ObjectHealth(
            ObjectStatus.IN_PROGRESS, f"generation {generation} not yet observed (at {observed})"
        )
    judge = _BY_KIND.get(str(obj.get("kind", "")))
    return judge(obj, tuple(pods)) if judge else _CURRENT
