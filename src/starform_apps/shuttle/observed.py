"""The objects Shuttle manages, as the status report lists them: identity, UID and a small
snapshot of their observed state (replica counts, conditions, a workload's container images, a
CronJob's schedule), for
Starbase's observed cache.

Bounded: at most :data:`OBJECTS_MAX` objects, :data:`CONDITIONS_MAX` conditions each, strings cut
to :data:`TEXT_MAX` characters, images as :mod:`starform_core.kube.pod_images` bounds them. Never a
Secret's content: a Secret is listed by identity only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject
from starform_core.kube.pod_images import container_images
from starform_core.plan.ownership import is_owned

__all__ = ["CONDITIONS_MAX", "OBJECTS_MAX", "TEXT_MAX", "observed_objects"]

OBJECTS_MAX: Final = 5000
CONDITIONS_MAX: Final = 10
TEXT_MAX: Final = 200
_COUNTS: Final = (
    "replicas",
    "readyReplicas",
    "availableReplicas",
    "updatedReplicas",
    "currentReplicas",
    "desiredReplicas",
    "active",
    "succeeded",
    "failed",
    "observedGeneration",
)
_TEXTS: Final = ("phase", "lastScheduleTime", "lastSuccessfulTime")


def _text(value: object) -> str:
    return str(value)[:TEXT_MAX]


def _conditions(status: Mapping[str, Any]) -> list[dict[str, str]]:
    found = status.get("conditions")
    if not isinstance(found, list):
        return []
    return [
        {k: _text(c[k]) for k in ("type", "status", "reason") if c.get(k) is not None}
        for c in found[:CONDITIONS_MAX]
        if isinstance(c, Mapping)
    ]


def snapshot(obj: KubeObject) -> dict[str, Any]:
    """The small observed snapshot of one object (empty for a Secret); a workload's ``images``
    map each container name of its live pod template to the image it runs."""
    if obj.get("kind") == "Secret":
        return {}
    status = obj.get("status")
    status = status if isinstance(status, Mapping) else {}
    spec = obj.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    shot: dict[str, Any] = {
        k: status[k] for k in _COUNTS if isinstance(status.get(k), int) and not isinstance(status[k], bool)
    }
    shot.update({k: _text(status[k]) for k in _TEXTS if isinstance(status.get(k), str)})
    if isinstance(spec.get("replicas"), int) and not isinstance(spec["replicas"], bool):
        shot["spec_replicas"] = spec["replicas"]
    if obj.get("kind") == "CronJob":
        shot.update(
            {f"spec_{k}": _text(spec[k]) for k in ("schedule", "timeZone") if isinstance(spec.get(k), str)}
        )
        if isinstance(spec.get("suspend"), bool):
            shot["spec_suspend"] = spec["suspend"]
    if isinstance(status.get("active"), list):
        shot["active"] = len(status["active"])
    conditions = _conditions(status)
    if conditions:
        shot["conditions"] = conditions
    images = container_images(obj)
    if images:
        shot["images"] = images
    return shot


def observed_objects(live: Iterable[KubeObject]) -> list[dict[str, Any]]:
    """Every live object Shuttle owns that belongs to a service, with its UID and snapshot."""
    out: list[dict[str, Any]] = []
    for obj in live:
        metadata = obj.get("metadata") or {}
        service_id = (metadata.get("labels") or {}).get(LABEL_SERVICE_ID)
        uid = metadata.get("uid")
        if not service_id or not uid or not is_owned(obj):
            continue
        out.append(
            {
                "service_id": service_id,
                "kind": _text(obj.get("kind", "")),
                "namespace": _text(metadata.get("namespace") or ""),
                "name": _text(metadata.get("name", "")),
                "uid": _text(uid),
                "observed": snapshot(obj),
            }
        )
    out.sort(key=lambda o: (o["service_id"], o["kind"], o["namespace"], o["name"]))
    return out[:OBJECTS_MAX]
