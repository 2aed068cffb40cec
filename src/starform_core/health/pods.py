"""Pods and their containers: what counts as a failure that will not fix itself.

A container is failing when it waits with a reason that needs a human (``ImagePullBackOff``,
``CrashLoopBackOff``, ``CreateContainerConfigError``, ...), or when it is crash-looping: it has
restarted and is not ready, whatever point of the loop the kubelet is at (``terminated: Error``,
waiting in back-off, or running again after a crash). Judging every point of the loop alike keeps
a crash-looping pod Failed instead of flipping between Failed and InProgress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from starform_core.health.status import ObjectHealth, ObjectStatus
from starform_core.kube.objects import KubeObject

__all__ = ["FAILING_WAIT_REASONS", "assess_pod", "condition", "container_failure", "pods_failure"]

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


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The status condition of type ``kind``, if the object has one."""
    for found in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(found, Mapping) and found.get("type") == kind:
            return found
    return None


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _termination(state: Mapping[str, Any]) -> str | None:
    terminated = state.get("terminated")
    if not isinstance(terminated, Mapping):
        return None
    reason = terminated.get("reason") or "terminated"
    return f"{reason}, exit code {_int(terminated.get('exitCode'))}"


def _crash_loop(container: Mapping[str, Any]) -> str | None:
    """Why a restarted, not-ready container is crash-looping (``None`` when it is not)."""
    restarts = _int(container.get("restartCount"))
    if restarts == 0 or container.get("ready"):
        return None
    state = container.get("state") or {}
    last = _termination(state) or _termination(container.get("lastState") or {})
    if last is None and not state.get("waiting"):
        return None
    plural = "s" if restarts != 1 else ""
    return f"crash-looping ({last or 'back-off'}; {restarts} restart{plural})"


def container_failure(pod: KubeObject) -> str | None:
    """Why one of the pod's containers has failed, or ``None``."""
    status = pod.get("status") or {}
    for group in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(group) or ():
            if not isinstance(container, Mapping):
                continue
            name = container.get("name")
            waiting = (container.get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason") if isinstance(waiting, Mapping) else None
            if reason in FAILING_WAIT_REASONS and reason != "CrashLoopBackOff":
                return f"container {name}: {reason}"
            looping = _crash_loop(container)
            if looping or reason == "CrashLoopBackOff":
                return f"container {name}: {looping or reason}"
    return None


def pods_failure(pods: Iterable[KubeObject]) -> ObjectHealth | None:
    """The first failing pod (by name) of a workload, as the workload's health."""
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("name"))):
        reason = container_failure(pod)
        if reason:
            name = (pod.get("metadata") or {}).get("name")
            return ObjectHealth(ObjectStatus.FAILED, f"pod {name}: {reason}")
    return None


def assess_pod(obj: KubeObject) -> ObjectHealth:
    """One pod: a failing container or phase Failed → Failed; Succeeded, or Running and Ready →
    Current; else InProgress."""
    reason = container_failure(obj)
    if reason:
        return ObjectHealth(ObjectStatus.FAILED, reason)
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Failed":
        return ObjectHealth(ObjectStatus.FAILED, "pod failed")
    if phase == "Succeeded":
        return ObjectHealth(ObjectStatus.CURRENT, "pod succeeded")
    ready = condition(obj, "Ready")
    if phase == "Running" and ready and ready.get("status") == "True":
        return ObjectHealth(ObjectStatus.CURRENT, "running and ready")
    return ObjectHealth(ObjectStatus.IN_PROGRESS, f"pod {str(phase or 'pending').lower()}")
