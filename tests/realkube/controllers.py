"""The controllers a bare kube-apiserver lacks, played through its API with their real field
managers (as envtest users do): what a real cluster writes onto Shuttle's objects after an apply.

* deployment controller (``kube-controller-manager``): the ``deployment.kubernetes.io/revision``
  annotation and the rollout status, in one write to ``/status``;
* horizontal pod autoscaler (``kube-controller-manager``): the HPA's status, and
  ``spec.replicas`` of its target through the ``scale`` subresource;
* persistent volume controller (``kube-controller-manager``): binding annotations,
  ``spec.volumeName`` and the ``Bound`` phase of claims;
* resource quota controller (``kube-controller-manager``): quota status;
* cronjob controller (``kube-controller-manager``): ``status.lastScheduleTime``;
* the gateway (``envoy-gateway``): HTTPRoute ``status.parents``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient

from starform_core.kube.objects import KubeObject, key_of

__all__ = ["CONTROLLER", "GATEWAY", "REVISION", "act_as_controllers", "autoscale", "rollout_done"]

CONTROLLER = "kube-controller-manager"
REVISION = "deployment.kubernetes.io/revision"
GATEWAY = "envoy-gateway"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _identity(obj: KubeObject) -> dict[str, Any]:
    meta = obj["metadata"]
    ident = {"name": meta["name"]}
    if meta.get("namespace"):
        ident["namespace"] = meta["namespace"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": ident}


def _annotated(obj: KubeObject, annotations: dict[str, str]) -> dict[str, Any]:
    ident = _identity(obj)
    ident["metadata"]["annotations"] = annotations
    return ident


def _condition(kind: str, reason: str, message: str, *, status: str = "True") -> dict[str, Any]:
    now = _now()
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def rollout_done(controller: Actor, deployment: KubeObject) -> None:
    """What the deployment controller writes once a rollout finished: one ``UpdateStatus`` that
    sets the ``deployment.kubernetes.io/revision`` annotation and the status (a status write may
    change annotations; it leaves the generation alone)."""
    name = deployment["metadata"]["name"]
    replicas = int(deployment["spec"].get("replicas", 1))
    revision = str(int(deployment["metadata"].get("annotations", {}).get(REVISION, "0")) + 1)
    status: dict[str, Any] = {
        "observedGeneration": deployment["metadata"]["generation"],
        "conditions": [
            _condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
            _condition(
                "Progressing",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{name}-7d4b9c8f5" has successfully progressed.',
            ),
        ],
    }
    if replicas:
        status.update(
            replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas, availableReplicas=replicas
        )
    controller.edit({**_annotated(deployment, {REVISION: revision}), "status": status}, subresource="status")


def claim_bound(controller: Actor, claim: KubeObject) -> None:
    """What the persistent volume controller writes once a claim is bound."""
    volume = f"pvc-{claim['metadata']['uid']}"
    annotations = {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "dobs.csi.digitalocean.com",
        "volume.kubernetes.io/storage-provisioner": "dobs.csi.digitalocean.com",
    }
    controller.edit({**_annotated(claim, annotations), "spec": {"volumeName": volume}})
    requested = claim["spec"]["resources"]["requests"]
    controller.edit(
        {
            **_identity(claim),
            "status": {"phase": "Bound", "accessModes": claim["spec"]["accessModes"], "capacity": requested},
        },
        subresource="status",
    )


def quota_counted(controller: Actor, quota: KubeObject) -> None:
    """What the resource quota controller writes (usage starts at zero)."""
    hard = quota["spec"].get("hard") or {}
    controller.edit(
        {**_identity(quota), "status": {"hard": hard, "used": dict.fromkeys(hard, "0")}}, subresource="status"
    )


def cronjob_scheduled(controller: Actor, cronjob: KubeObject) -> None:
    """What the cronjob controller writes after a run was scheduled."""
    controller.edit({**_identity(cronjob), "status": {"lastScheduleTime": _now()}}, subresource="status")


def route_accepted(gateway: Actor, route: KubeObject) -> None:
    """What the gateway controller writes: every parent accepted."""
    parents = [
        {
            "parentRef": ref,
            "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
            "conditions": [
                {
                    "type": condition,
                    "status": "True",
                    "reason": condition,
                    "message": "Route is accepted",
                    "observedGeneration": route["metadata"]["generation"],
                    "lastTransitionTime": _now(),
                }
                for condition in ("Accepted", "ResolvedRefs")
            ],
        }
        for ref in route["spec"].get("parentRefs") or []
    ]
    gateway.edit({**_identity(route), "status": {"parents": parents}}, subresource="status")


def autoscale(controller: Actor, hpa: KubeObject, replicas: int) -> None:
    """What the horizontal pod autoscaler writes: the target's replicas via ``scale``, its status."""
    ref = hpa["spec"]["scaleTargetRef"]
    namespace = hpa["metadata"]["namespace"]
    target = {
        "apiVersion": ref["apiVersion"],
        "kind": ref["kind"],
        "metadata": {"name": ref["name"], "namespace": namespace},
    }
    controller.scale(key_of(target), replicas)
    controller.edit(
        {**_identity(hpa), "status": {"currentReplicas": replicas, "desiredReplicas": replicas}},
        subresource="status",
    )


_BY_KIND = {
    "Deployment": rollout_done,
    "PersistentVolumeClaim": claim_bound,
    "ResourceQuota": quota_counted,
    "CronJob": cronjob_scheduled,
}


def act_as_controllers(raw: RawClient, live: Iterable[KubeObject]) -> None:
    """Every controller write a real cluster makes on these freshly applied objects."""
    controller, gateway = Actor(raw, CONTROLLER), Actor(raw, GATEWAY)
    for obj in live:
        if obj["kind"] == "HTTPRoute":
            route_accepted(gateway, obj)
        elif obj["kind"] in _BY_KIND:
            _BY_KIND[obj["kind"]](controller, obj)
