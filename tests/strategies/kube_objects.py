"""Hypothesis strategies for Kubernetes objects as the renderer would produce them, and for
out-of-band changes to a live cluster (see ``tests/property/ssa_model.py``).

Names come from small pools so that successive desired states share identities: the planner
then has creates, updates, drift and orphans to deal with in the same example.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

from starform_core.kube.labels import (
    ANNOTATION_PRUNE_PROTECTION,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_ID,
    MANAGED_BY_VALUE,
)

__all__ = [
    "NAMESPACES",
    "SECRET_MARKER",
    "desired_objects",
    "equivalent_quantity",
    "unowned_object",
]

NAMESPACES = ("alpha", "beta")
SECRET_MARKER = "s3cr3t-"
"""Every generated secret value starts with this marker, so leaks are easy to search for."""

_images = st.sampled_from(["registry.example/app@sha256:" + c * 64 for c in "abc"])
_cpu = st.sampled_from(["100m", "250m", "500m", "1", "1500m"])
_memory = st.sampled_from(["64Mi", "128Mi", "1Gi", "512Mi"])
_env_names = st.lists(st.sampled_from(["PORT", "MODE", "LOG", "URL"]), min_size=1, max_size=3, unique=True)


def _meta(name: str, namespace: str | None, service_id: str | None) -> dict[str, Any]:
    labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE}
    if service_id:
        labels[LABEL_SERVICE_ID] = service_id
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return meta


@st.composite
def _container(draw: st.DrawFn, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    port = draw(st.sampled_from([8080, 9090]))
    container: dict[str, Any] = {
        "name": "app",
        "image": draw(_images),
        "env": [{"name": n, "value": draw(st.sampled_from(["a", "b", "8080"]))} for n in draw(_env_names)],
        "ports": [{"containerPort": port, "name": "http"}],
        "resources": {
            "requests": {"cpu": draw(_cpu), "memory": draw(_memory)},
            "limits": {"cpu": draw(_cpu), "memory": draw(_memory)},
        },
    }
    if mounts:
        container["volumeMounts"] = mounts
    return container


@st.composite
def _service_objects(draw: st.DrawFn, service_id: str, namespace: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    name = service_id
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    env_from: list[dict[str, Any]] = []
    if draw(st.booleans()):
        secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque"}
        secret["metadata"] = _meta(f"{name}-vars", namespace, service_id)
        value = SECRET_MARKER + draw(st.sampled_from(["one", "two"]))
        if draw(st.booleans()):
            secret["stringData"] = {"TOKEN": value}
        else:
            secret["data"] = {"TOKEN": base64.b64encode(value.encode()).decode()}
        objects.append(secret)
        env_from.append({"secretRef": {"name": f"{name}-vars"}})
    if draw(st.booleans()):
        pvc: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _meta(f"{name}-data", namespace, service_id),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": draw(st.sampled_from(["1Gi", "5Gi"]))}},
            },
        }
        pvc["metadata"]["annotations"] = {ANNOTATION_PRUNE_PROTECTION: "volume"}
        objects.append(pvc)
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}})
        mounts.append({"name": "data", "mountPath": "/data"})
    container = draw(_container(mounts))
    if env_from:
        container["envFrom"] = env_from
    pod_spec: dict[str, Any] = {"serviceAccountName": "default", "containers": [container]}
    if volumes:
        pod_spec["volumes"] = volumes
    template = {"metadata": {"labels": {LABEL_SERVICE_ID: service_id}}, "spec": pod_spec}
    if draw(st.integers(0, 4)) == 0:
        cron = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _meta(name, namespace, service_id),
            "spec": {
                "schedule": draw(st.sampled_from(["*/5 * * * *", "@hourly"])),
                "jobTemplate": {
                    "spec": {"template": {**template, "spec": {**pod_spec, "restartPolicy": "OnFailure"}}}
                },
            },
        }
        objects.append(cron)
        return objects
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, namespace, service_id),
        "spec": {
            "replicas": draw(st.integers(0, 3)),
            "selector": {"matchLabels": {LABEL_SERVICE_ID: service_id}},
            "template": template,
        },
    }
    objects.append(deployment)
    if draw(st.booleans()):
        objects.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": _meta(name, namespace, service_id),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": 1,
                    "maxReplicas": draw(st.integers(2, 5)),
                },
            }
        )
    if draw(st.booleans()):
        port = container["ports"][0]["containerPort"]
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": _meta(name, namespace, service_id),
                "spec": {
                    "selector": {LABEL_SERVICE_ID: service_id},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": draw(st.sampled_from([port, str(port)]))}
                    ],
                },
            }
        )
        if draw(st.booleans()):
            objects.append(
                {
                    "apiVersion": "gateway.networking.k8s.io/v1",
                    "kind": "HTTPRoute",
                    "metadata": _meta(name, namespace, service_id),
                    "spec": {
                        "hostnames": [f"{name}.example.com"],
                        "rules": [{"backendRefs": [{"name": name, "port": 80}]}],
                    },
                }
            )
    return objects


@st.composite
def desired_objects(draw: st.DrawFn, *, max_services: int = 4) -> list[dict[str, Any]]:
    """A consistent desired state: namespaces, per-namespace guard rails, services' objects."""
    service_ids = draw(
        st.lists(st.sampled_from([f"svc-{i}" for i in range(6)]), max_size=max_services, unique=True)
    )
    objects: list[dict[str, Any]] = []
    used: set[str] = set()
    for service_id in service_ids:
        namespace = draw(st.sampled_from(NAMESPACES))
        used.add(namespace)
        objects.extend(draw(_service_objects(service_id, namespace)))
    for namespace in sorted(used):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(namespace, None, None)})
        if draw(st.booleans()):
            objects.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": _meta("default-deny", namespace, None),
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
                }
            )
    return objects


def unowned_object(
    kind: str, name: str, namespace: str, manager_label: str | None = "helm"
) -> dict[str, Any]:
    """An object Shuttle does not own (a ConfigMap unless ``kind`` says otherwise)."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if manager_label:
        meta["labels"] = {LABEL_MANAGED_BY: manager_label}
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1" if kind == "Deployment" else "v1",
        "kind": kind,
        "metadata": meta,
    }
    if kind == "ConfigMap":
        obj["data"] = {"owner": "someone-else"}
    return obj


_CPU_FORMS = {
    "100m": ["100m", "0.1", "1e-1"],
    "250m": ["250m", "0.25"],
    "500m": ["500m", "0.5", "500000u"],
    "1": ["1", "1000m", "1e0", "1000000000n"],
    "1500m": ["1500m", "1.5"],
    "64Mi": ["64Mi", "65536Ki", "67108864"],
    "128Mi": ["128Mi", "131072Ki"],
    "512Mi": ["512Mi", "0.5Gi"],
    "1Gi": ["1Gi", "1024Mi", "1073741824"],
    "5Gi": ["5Gi", "5120Mi"],
}


def equivalent_quantity(value: str) -> st.SearchStrategy[str]:
    """Another spelling of the same quantity (``1`` → ``1000m``, ``1Gi`` → ``1024Mi``)."""
    return st.sampled_from(_CPU_FORMS.get(value, [value]))
