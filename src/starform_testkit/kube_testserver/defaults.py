"""Server-side defaults, applied to every stored object like a real API server does.

Defaults are filled in only where a field is absent, so applying them twice changes nothing.
The table in ``docs/testing/kube-test-server.md`` lists them. HTTPRoutes get the ``default``
values declared in their CRD schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._json import Obj, clone
from .resources import ResourceKind
from .schemas import crd_schema

__all__ = ["Allocators", "apply_defaults", "image_pull_policy"]


@attrs.frozen
class Allocators:
    """Callbacks that hand out cluster IPs and node ports for Services."""

    cluster_ip: Callable[[], str]
    node_port: Callable[[], int]


def image_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` or untagged images, ``IfNotPresent`` otherwise."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}

# Go value fields tagged ``omitempty``: a zero value is not serialized, so it never comes back
_CONTAINER_ZEROS = ("stdin", "stdinOnce", "tty")
_POD_SPEC_ZEROS = ("hostNetwork", "hostPID", "hostIPC")


def _drop_zeros(obj: Obj, fields: tuple[str, ...]) -> None:
    for field in fields:
        if field in obj and obj[field] in (0, False) and not isinstance(obj[field], float):
            del obj[field]


def _http_get(action: Any) -> None:
    if isinstance(action, dict) and isinstance(action.get("httpGet"), dict):
        action["httpGet"].setdefault("path", "/")
        action["httpGet"].setdefault("scheme", "HTTP")


def _probe(probe: Obj) -> None:
    for field, value in _PROBE_DEFAULTS.items():
        if not probe.get(field):
            probe[field] = value
    _drop_zeros(probe, ("initialDelaySeconds",))
    _http_get(probe)


def _container(container: Obj) -> None:
    for name in _PROBES:
        if isinstance(container.get(name), dict):
            _probe(container[name])
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            _http_get(lifecycle.get(hook))
    _drop_zeros(container, _CONTAINER_ZEROS)
    if isinstance(container.get("image"), str):
        container.setdefault("imagePullPolicy", image_pull_policy(container["image"]))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            _drop_zeros(port, ("hostPort",))


def _volume(volume: Obj) -> None:
    for source in ("secret", "configMap"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", 420)


def pod_spec(spec: Obj) -> None:
    """Defaults of a PodSpec (also used inside every pod template)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    # the deprecated serviceAccount mirrors serviceAccountName (either way round)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    elif spec.get("serviceAccount") and not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    _drop_zeros(spec, _POD_SPEC_ZEROS)
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or ():
            if isinstance(container, dict):
                _container(container)
    for volume in spec.get("volumes") or ():
        if isinstance(volume, dict):
            _volume(volume)


def _template(owner: Obj) -> None:
    template = owner.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        pod_spec(template["spec"])


def _deployment(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if isinstance(strategy, dict):
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            if isinstance(rolling, dict):
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _drop_zeros(spec, ("minReadySeconds", "paused"))
    _template(spec)


def _replicaset(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        _template(spec)


def _job_spec(spec: Obj) -> None:
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    _template(spec)


def _job(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _job_spec(spec)
        if not spec.get("podFailurePolicy"):
            spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")


def _cronjob(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict) and isinstance(job_template.get("spec"), dict):
        _template(job_template["spec"])


def _pod(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _service(obj: Obj, alloc: Allocators) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    _drop_zeros(spec, ("publishNotReadyAddresses", "healthCheckNodePort"))
    for port in spec.get("ports") or ():
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            _drop_zeros(port, ("nodePort",))
            if "port" in port:
                port.setdefault("targetPort", port["port"])
            if spec["type"] in ("NodePort", "LoadBalancer"):
                port.setdefault("nodePort", alloc.node_port())
    if spec["type"] == "ExternalName":
        return
    if "clusterIP" not in spec:
        spec["clusterIP"] = alloc.cluster_ip()
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def _hpa(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("minReplicas", 1)
    spec.setdefault(
        "metrics",
        [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    )
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.setdefault("scaleUp", {})
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault(
            "policies",
            [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        )
        down = behavior.setdefault("scaleDown", {})
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def _namespace(obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = meta["labels"] = {}
    if meta.get("name"):
        labels["kubernetes.io/metadata.name"] = meta["name"]
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        spec.setdefault("finalizers", ["kubernetes"])
    status = obj.setdefault("status", {})
    if isinstance(status, dict):
        status.setdefault("phase", "Active")


def _network_policy(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or ():
            for port in (rule or {}).get("ports") or ():
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _schema_defaults(value: Any, node: Any) -> None:
    if not isinstance(node, dict):
        return
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for key, sub in props.items():
            if key not in value and isinstance(sub, dict) and "default" in sub:
                value[key] = clone(sub["default"])
            if key in value:
                _schema_defaults(value[key], sub)
    elif isinstance(value, list):
        for entry in value:
            _schema_defaults(entry, node.get("items"))


def _simple(obj: Obj, kind_name: str) -> None:
    if kind_name == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind_name == "PersistentVolumeClaim" and isinstance(obj.get("spec"), dict):
        obj["spec"].setdefault("volumeMode", "Filesystem")
        obj.setdefault("status", {}).setdefault("phase", "Pending")


_BY_KIND: dict[str, Callable[[Obj], None]] = {
    "Deployment": _deployment,
    "ReplicaSet": _replicaset,
    "Job": _job,
    "CronJob": _cronjob,
    "Pod": _pod,
    "HorizontalPodAutoscaler": _hpa,
    "Namespace": _namespace,
    "NetworkPolicy": _network_policy,
}


def apply_defaults(kind: ResourceKind, obj: Obj, alloc: Allocators) -> None:
    """Fill in the server-side defaults of ``obj`` in place."""
    if kind.is_crd:
        _schema_defaults(obj, crd_schema(kind.version))
        return
    if kind.kind == "Service":
        _service(obj, alloc)
        return
    handler = _BY_KIND.get(kind.kind)
    if handler is not None:
        handler(obj)
    else:
        _simple(obj, kind.kind)
