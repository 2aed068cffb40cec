"""Per-service health: the objects carrying one ``starform.io/service-id``, summarised.

* **Error**: an object Failed and the service serves nothing (no available replica);
* **Degraded**: an object Failed but the workload still has available replicas (or a cron
  service's run failed);
* **Progressing**: something is InProgress or Terminating;
* **Paused**: everything Current and the workload is scaled to zero by desire or the CronJob is
  suspended;
* **Healthy**: everything Current.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from starform_core.health.objects import assess_object
from starform_core.health.status import ObjectHealth, ObjectStatus, ServiceHealth, ServiceStatus
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, ObjectKey, key_of

__all__ = ["assess_service", "assess_services"]

_WORKLOADS = ("Deployment", "StatefulSet", "CronJob")


def _available(objects: Iterable[KubeObject]) -> int:
    return sum(
        int((obj.get("status") or {}).get("availableReplicas", 0))
        for obj in objects
        if obj.get("kind") in ("Deployment", "StatefulSet")
    )


def _paused(objects: Iterable[KubeObject]) -> bool:
    workloads = [obj for obj in objects if obj.get("kind") in _WORKLOADS]
    return bool(workloads) and all(
        (obj.get("spec") or {}).get("suspend")
        if obj.get("kind") == "CronJob"
        else int((obj.get("spec") or {}).get("replicas", 1)) == 0
        for obj in workloads
    )


def assess_service(objects: Iterable[KubeObject]) -> ServiceHealth:
    """Summarise one service from its live objects (pods included, if listed)."""
    objects = sorted(objects, key=key_of)
    pods = [obj for obj in objects if obj.get("kind") == "Pod"]
    judged: list[tuple[ObjectKey, ObjectHealth]] = []
    for obj in objects:
        if obj.get("kind") == "Pod":
            continue
        own_pods = pods if obj.get("kind") in (*_WORKLOADS, "Job") else ()
        judged.append((key_of(obj), assess_object(obj, pods=own_pods)))
    if not judged:
        return ServiceHealth(ServiceStatus.PROGRESSING, "no objects yet")
    failed = [(key, health) for key, health in judged if health.status is ObjectStatus.FAILED]
    if failed:
        key, health = failed[0]
        serving = _available(objects) > 0 or key.kind in ("CronJob", "Job")
        status = ServiceStatus.DEGRADED if serving else ServiceStatus.ERROR
        return ServiceHealth(status, f"{key}: {health.reason}", tuple(judged))
    moving = [(k, h) for k, h in judged if h.status is not ObjectStatus.CURRENT]
    if moving:
        key, health = moving[0]
        return ServiceHealth(ServiceStatus.PROGRESSING, f"{key}: {health.reason}", tuple(judged))
    if _paused(objects):
        return ServiceHealth(ServiceStatus.PAUSED, "scaled to zero or suspended", tuple(judged))
    return ServiceHealth(ServiceStatus.HEALTHY, "all objects current", tuple(judged))


def assess_services(live: Iterable[KubeObject]) -> Mapping[str, ServiceHealth]:
    """Health per ``starform.io/service-id`` label value, for every labelled live object."""
    groups: dict[str, list[KubeObject]] = defaultdict(list)
    for obj in live:
        service_id = ((obj.get("metadata") or {}).get("labels") or {}).get(LABEL_SERVICE_ID)
        if isinstance(service_id, str) and service_id:
            groups[service_id].append(obj)
    return {service_id: assess_service(groups[service_id]) for service_id in sorted(groups)}
