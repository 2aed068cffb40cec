"""What kube-apiserver does to an object when it is created, besides defaulting: each kind's
create strategy resets the status to its initial value (a Job's also generates its selector),
and the default admission plugins add
what they add (``StorageObjectInUseProtection``: the PVC protection finalizer;
``DefaultTolerationSeconds``: a Pod's tolerations of unready and unreachable nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._json import Obj

__all__ = ["admit_create"]

PVC_PROTECTION = "kubernetes.io/pvc-protection"
_NODE_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _qos_class(spec: Obj) -> str:
    """The Pod's QoS class from its containers' requests and limits."""
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    resources = [c.get("resources") or {} for c in containers if isinstance(c, dict)]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"

    def guaranteed(resource: Obj) -> bool:
        limits = resource.get("limits") or {}
        requests = resource.get("requests") or {}
        return set(limits) >= {"cpu", "memory"} and all(requests.get(k, v) == v for k, v in limits.items())

    return "Guaranteed" if all(guaranteed(r) for r in resources) else "Burstable"


def _pod_status(obj: Obj) -> Obj:
    return {"phase": "Pending", "qosClass": _qos_class(obj.get("spec") or {})}


_INITIAL_STATUS: dict[str, Callable[[Obj], Any]] = {
    "Deployment": lambda _obj: {},
    "ReplicaSet": lambda _obj: {"replicas": 0},
    "Job": lambda _obj: {},
    "CronJob": lambda _obj: {},
    "ResourceQuota": lambda _obj: {},
    "HorizontalPodAutoscaler": lambda _obj: {"desiredReplicas": 0, "currentMetrics": None},
    "Service": lambda _obj: {"loadBalancer": {}},
    "Pod": _pod_status,
}
"""The status a new object starts with (Go serializes an empty status struct, and the fields
that are not ``omitempty``)."""


def _tolerate_unready_nodes(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    tolerations = spec.setdefault("tolerations", [])
    if not isinstance(tolerations, list):
        return
    for taint in _NODE_TAINTS:
        if not any(_tolerates(t, taint) for t in tolerations):
            tolerations.append(
                {"key": taint, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )


def _tolerates(toleration: Any, taint: str) -> bool:
    return (
        isinstance(toleration, dict)
        and toleration.get("key") == taint
        and toleration.get("effect") in (None, "", "NoExecute")
    )


def _protect_claim(obj: Obj) -> None:
    finalizers = obj["metadata"].setdefault("finalizers", [])
    if isinstance(finalizers, list) and PVC_PROTECTION not in finalizers:
        finalizers.append(PVC_PROTECTION)


def _select_own_pods(job: Obj) -> None:
    """The Job strategy's generated selector: the Job's uid labels its pods (unless the Job
    chose its own with ``manualSelector``); a Job without labels takes its template's."""
    spec = job.get("spec")
    if not isinstance(spec, dict) or spec.get("manualSelector") or spec.get("selector"):
        return
    meta = job["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    template = spec.setdefault("template", {})
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **generated}
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    spec["manualSelector"] = False
    if not meta.get("labels"):
        meta["labels"] = dict(template_meta["labels"])


def admit_create(kind_name: str, obj: Obj) -> None:
    """Give a new object its initial status (unless the server's own controllers wrote one) and
    apply the default admission plugins, in place."""
    initial = _INITIAL_STATUS.get(kind_name)
    if initial is not None and "status" not in obj:
        obj["status"] = initial(obj)
    if kind_name == "Pod":
        _tolerate_unready_nodes(obj)
    elif kind_name == "PersistentVolumeClaim":
        _protect_claim(obj)
    elif kind_name == "Job":
        _select_own_pods(obj)
