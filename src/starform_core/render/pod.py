"""The pod template every workload shares: container, probes, resources, volumes, security.

Security defaults (chosen not to break common images): no service account token, no service
links (they would leak other environments' Service addresses into the environment), seccomp
``RuntimeDefault``, ``allowPrivilegeEscalation: false``. Images may still run as root and keep
the runtime's default capabilities, so entrypoints that drop to a user with ``gosu`` keep working.
"""

from __future__ import annotations

from typing import Any, Final

from starform_core.kube import labels as kl
from starform_core.model.enums import ProbeKind, ServiceType
from starform_core.model.workload import Probe, Release
from starform_core.render.metadata import pod_labels
from starform_core.render.scopes import ServiceScope
from starform_core.render.vars import checksum_annotations, env_from

__all__ = [
    "CONTAINER_NAME",
    "TERMINATION_GRACE_SECONDS",
    "container_port_name",
    "pod_template",
    "probe",
]

CONTAINER_NAME: Final = "app"
"""The name of the service's one container."""

TERMINATION_GRACE_SECONDS: Final = 30
"""How long a pod may take to stop after SIGTERM."""


def container_port_name(service_type: ServiceType) -> str:
    """The port's name: ``http`` for web services, ``tcp`` for workers."""
    return "http" if service_type is ServiceType.WEB else "tcp"


def probe(spec: Probe) -> dict[str, Any]:
    """A Kubernetes probe from a configured one (http -> httpGet, tcp -> tcpSocket, grpc)."""
    result: dict[str, Any]
    if spec.kind is ProbeKind.HTTP:
        result = {"httpGet": {"path": spec.path, "port": spec.port, "scheme": "HTTP"}}
    elif spec.kind is ProbeKind.TCP:
        result = {"tcpSocket": {"port": spec.port}}
    else:
        grpc: dict[str, Any] = {"port": spec.port}
        if spec.grpc_service is not None:
            grpc["service"] = spec.grpc_service
        result = {"grpc": grpc}
    result.update(
        {
            "failureThreshold": spec.failure_threshold,
            "initialDelaySeconds": spec.initial_delay_seconds,
            "periodSeconds": spec.period_seconds,
            "successThreshold": 1,
            "timeoutSeconds": spec.timeout_seconds,
        }
    )
    return result


def _probes(scope: ServiceScope) -> dict[str, Any]:
    service = scope.service
    probes = service.probes
    result: dict[str, Any] = {}
    if probes.startup is not None:
        result["startupProbe"] = probe(probes.startup)
    if probes.liveness is not None:
        result["livenessProbe"] = probe(probes.liveness)
    readiness = probes.readiness
    if readiness is None and service.type is ServiceType.WEB and service.port is not None:
        readiness = Probe(kind=ProbeKind.TCP, port=service.port)
    if readiness is not None:
        result["readinessProbe"] = probe(readiness)
    return result


def _resources(scope: ServiceScope) -> dict[str, Any]:
    spec = scope.service.resources
    result: dict[str, Any] = {"requests": {"cpu": spec.cpu_request, "memory": spec.memory_request}}
    limits = {
        name: value
        for name, value in (("cpu", spec.cpu_limit), ("memory", spec.memory_limit))
        if value is not None
    }
    if limits:
        result["limits"] = limits
    return result


def _container(scope: ServiceScope, release: Release) -> dict[str, Any]:
    service = scope.service
    container: dict[str, Any] = {"name": CONTAINER_NAME, "image": release.image}
    if release.command is not None:
        container["command"] = list(release.command)
    if release.args is not None:
        container["args"] = list(release.args)
    sources = env_from(scope)
    if sources:
        container["envFrom"] = sources
    container["imagePullPolicy"] = "IfNotPresent"
    if service.port is not None:
        container["ports"] = [
            {
                "containerPort": service.port,
                "name": container_port_name(service.type),
                "protocol": "TCP",
            }
        ]
    container.update(_probes(scope))
    container["resources"] = _resources(scope)
    container["securityContext"] = {"allowPrivilegeEscalation": False}
    if service.volumes:
        container["volumeMounts"] = [
            {"mountPath": volume.mount_path, "name": volume.name} for volume in service.volumes
        ]
    return container


def pod_template(scope: ServiceScope, release: Release) -> dict[str, Any]:
    """The pod template of the service's workload (Deployment or CronJob's Job)."""
    service = scope.service
    annotations = {
        kl.ANNOTATION_DEPLOYMENT_VERSION: str(release.version),
        kl.ANNOTATION_IMAGE: release.image,
        **checksum_annotations(scope),
    }
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": [_container(scope, release)],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": False,
        "restartPolicy": "Never" if service.type is ServiceType.CRON else "Always",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "serviceAccountName": scope.names.base,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
    }
    if service.volumes:
        spec["volumes"] = [
            {
                "name": volume.name,
                "persistentVolumeClaim": {"claimName": scope.names.claim(volume.name)},
            }
            for volume in service.volumes
        ]
    return {
        "metadata": {
            "labels": pod_labels(scope),
            "annotations": dict(sorted(annotations.items())),
        },
        "spec": spec,
    }
