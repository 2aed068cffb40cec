"""Hand-made objects for the planner's example tests."""

from __future__ import annotations

import base64
import copy
from typing import Any

from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, MANAGED_BY_VALUE

SID = "svc-1"
SECRET_VALUE = "s3cr3t-hunter2"


def meta(name: str, namespace: str | None = "shop", *, service: str | None = SID) -> dict[str, Any]:
    labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE}
    if service:
        labels[LABEL_SERVICE_ID] = service
    out: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        out["namespace"] = namespace
    return out


def namespace(name: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, None, service=None)}


def deployment(name: str = "web", *, replicas: int = 2, image: str = "app:1") -> dict[str, Any]:
    container = {
        "name": "app",
        "image": image,
        "env": [{"name": "MODE", "value": "prod"}, {"name": "PORT", "value": "8080"}],
        "ports": [{"containerPort": 8080, "name": "http"}],
        "resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}},
        "envFrom": [{"secretRef": {"name": "vars"}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {LABEL_SERVICE_ID: SID}},
            "template": {
                "metadata": {"labels": {LABEL_SERVICE_ID: SID}, "annotations": {}},
                "spec": {"containers": [container], "volumes": []},
            },
        },
    }


def service(name: str = "web", target: int | str = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name),
        "spec": {"selector": {LABEL_SERVICE_ID: SID}, "ports": [{"port": 80, "targetPort": target}]},
    }


def secret(name: str = "vars", value: str = SECRET_VALUE, *, string_data: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name), "type": "Opaque"}
    if string_data:
        obj["stringData"] = {"TOKEN": value}
    else:
        obj["data"] = {"TOKEN": base64.b64encode(value.encode()).decode()}
    return obj


def hpa(name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 5,
        },
    }


def pvc(name: str = "data", *, protected: bool = True) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(name),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    if protected:
        obj["metadata"]["annotations"] = {"starform.io/prune-protection": "volume"}
    return obj


def unowned(obj: dict[str, Any], manager: str | None = "helm") -> dict[str, Any]:
    copy_ = copy.deepcopy(obj)
    labels = copy_["metadata"].setdefault("labels", {})
    labels.pop(LABEL_MANAGED_BY, None)
    if manager:
        labels[LABEL_MANAGED_BY] = manager
    return copy_
