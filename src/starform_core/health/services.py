"""Per-service health, judged against what is desired (Argo CD's and kstatus' rules).

A service is the set of objects carrying one ``starform.io/service-id``. When the desired
objects are given, each desired object is looked up in the cluster by identity; one that is not
live is **NotFound**, and the service is **Missing**. Summary, worst first:

* **Error**: an object Failed and the service serves nothing (no available replica);
* **Degraded**: an object Failed but the workload still has available replicas (or a cron
  service's last run, or its autoscaler, failed);
* **Missing**: a desired object is not in the cluster (each one is named);
* **Progressing**: something is InProgress or Terminating;
* **Paused**: a rollout paused, a Job or CronJob suspended, or every workload scaled to zero;
* **Healthy**: everything Current.

A CronJob is judged by its newest run: older Jobs kept in history (and their pods) do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starform_core.health.objects import assess_object
from starform_core.health.status import ObjectHealth, ObjectStatus, ServiceHealth, ServiceStatus
from starform_core.kube.labels import (
    ANNOTATION_DESIRED_HASH,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    MANAGED_BY_VALUE,
    service_id_of,
)
from starform_core.kube.objects import KubeObject, ObjectKey, key_of

__all__ = ["assess_service", "assess_services"]

_WORKLOADS = ("Deployment", "StatefulSet", "CronJob")
_Judged = list[tuple[ObjectKey, ObjectHealth]]


def _labels(obj: KubeObject) -> Mapping[str, Any]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, Mapping) else {}


def _ours(obj: KubeObject) -> bool:
    """Shuttle's mark: its ownership label, or its desired-hash annotation."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return _labels(obj).get(LABEL_MANAGED_BY) == MANAGED_BY_VALUE or (
        isinstance(annotations, Mapping) and ANNOTATION_DESIRED_HASH in annotations
    )


def _controller(obj: KubeObject) -> tuple[str, str] | None:
    for reference in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(reference, Mapping) and reference.get("controller"):
            return str(reference.get("kind", "")), str(reference.get("name", ""))
    return None


def _available(objects: Iterable[KubeObject]) -> int:
    total = 0
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet"):
            try:
                total += int((obj.get("status") or {}).get("availableReplicas") or 0)
            except (TypeError, ValueError):
                continue
    return total


def _scaled_to_zero(objects: Iterable[KubeObject]) -> bool:
    workloads = [obj for obj in objects if obj.get("kind") in ("Deployment", "StatefulSet")]
    return bool(workloads) and all((obj.get("spec") or {}).get("replicas", 1) == 0 for obj in workloads)


def _judge(objects: Sequence[KubeObject]) -> _Judged:
    """Each live object's health; Jobs a CronJob owns, and pods, are judged through their owner."""
    pods = [obj for obj in objects if obj.get("kind") == "Pod"]
    cron_jobs: dict[str, list[KubeObject]] = defaultdict(list)
    for obj in objects:
        owner = _controller(obj) if obj.get("kind") == "Job" else None
        if owner is not None and owner[0] == "CronJob":
            cron_jobs[owner[1]].append(obj)
    judged: _Judged = []
    for obj in objects:
        kind = obj.get("kind")
        if kind == "Pod" or (kind == "Job" and (_controller(obj) or ("", ""))[0] == "CronJob"):
            continue
        name = str((obj.get("metadata") or {}).get("name", ""))
        jobs = cron_jobs.get(name, []) if kind == "CronJob" else []
        own_pods = pods if kind in (*_WORKLOADS, "Job") else ()
        judged.append((key_of(obj), assess_object(obj, pods=own_pods, jobs=jobs)))
    return judged


def _missing_reason(missing: Sequence[tuple[ObjectKey, ObjectHealth]]) -> str:
    if len(missing) == 1:
        key, health = missing[0]
        return f"{key} is missing ({health.reason})"
    return f"{len(missing)} desired objects are missing: " + ", ".join(str(key) for key, _ in missing)


def _summary(judged: _Judged, objects: Sequence[KubeObject]) -> tuple[ServiceStatus, str]:
    failed = [(k, h) for k, h in judged if h.status is ObjectStatus.FAILED]
    if failed:
        key, health = failed[0]
        serving = _available(objects) > 0 or key.kind in ("CronJob", "Job")
        return (ServiceStatus.DEGRADED if serving else ServiceStatus.ERROR), f"{key}: {health.reason}"
    missing = [(k, h) for k, h in judged if h.status is ObjectStatus.NOT_FOUND]
    if missing:
        return ServiceStatus.MISSING, _missing_reason(missing)
    moving = [(k, h) for k, h in judged if h.status in (ObjectStatus.IN_PROGRESS, ObjectStatus.TERMINATING)]
    if moving:
        key, health = moving[0]
        return ServiceStatus.PROGRESSING, f"{key}: {health.reason}"
    suspended = [(k, h) for k, h in judged if h.status is ObjectStatus.SUSPENDED]
    if suspended:
        key, health = suspended[0]
        return ServiceStatus.PAUSED, f"{key}: {health.reason}"
    if _scaled_to_zero(objects):
        return ServiceStatus.PAUSED, "scaled to zero"
    return ServiceStatus.HEALTHY, "all objects current"


def _name(objects: Iterable[KubeObject]) -> str | None:
    for obj in objects:
        name = _labels(obj).get(LABEL_SERVICE_NAME)
        if isinstance(name, str) and name:
            return name
    return None


def assess_service(
    objects: Iterable[KubeObject], *, desired: Iterable[KubeObject] | None = None
) -> ServiceHealth:
    """Summarise one service from its live objects (pods included, if listed).

    With ``desired`` (the service's desired objects), each desired object that is not among the
    live ones is reported ``NotFound`` and the service is at best ``Missing``.
    """
    live = sorted(objects, key=key_of)
    wanted = sorted(desired or (), key=key_of)
    present = {key_of(obj): _ours(obj) for obj in live}
    wanted_keys = {key_of(obj) for obj in wanted}
    # an object in the way that Shuttle does not own is not the desired object
    live = [obj for obj in live if present[key_of(obj)] or key_of(obj) not in wanted_keys]
    judged = _judge(live)
    for obj in wanted:
        key = key_of(obj)
        if key not in present:
            judged.append((key, ObjectHealth(ObjectStatus.NOT_FOUND, "not in the cluster")))
        elif not present[key]:
            judged.append(
                (key, ObjectHealth(ObjectStatus.NOT_FOUND, "taken by an object Shuttle does not own"))
            )
    judged.sort(key=lambda pair: pair[0])
    name = _name([*wanted, *live])
    if not judged:
        return ServiceHealth(ServiceStatus.PROGRESSING, "no objects yet", name=name)
    status, reason = _summary(judged, live)
    return ServiceHealth(status, reason, tuple(judged), name=name)


def assess_services(
    live: Iterable[KubeObject], *, desired: Iterable[KubeObject] | None = None
) -> Mapping[str, ServiceHealth]:
    """Health per ``starform.io/service-id``, sorted by id.

    ``desired`` (the rendered objects) is what health is judged against: every service with a
    desired object is reported, a desired object absent from ``live`` makes its service
    ``Missing``, and a live object counts for the service that desires it (by identity) even if
    its labels were changed; an object Shuttle does not own that takes a desired name counts as
    missing. Without ``desired`` only what is live is judged, so nothing can be found missing.
    """
    wanted: dict[str, list[KubeObject]] = defaultdict(list)
    owner_of: dict[ObjectKey, str] = {}
    for obj in desired or ():
        service_id = service_id_of(obj)
        if service_id:
            wanted[service_id].append(obj)
            owner_of[key_of(obj)] = service_id
    groups: dict[str, list[KubeObject]] = defaultdict(list)
    for obj in live:
        service_id = owner_of.get(key_of(obj)) or service_id_of(obj)
        if service_id:
            groups[service_id].append(obj)
    ids = sorted(set(groups) | set(wanted))
    return {
        sid: assess_service(groups.get(sid, ()), desired=wanted.get(sid, ()) if desired is not None else None)
        for sid in ids
    }
