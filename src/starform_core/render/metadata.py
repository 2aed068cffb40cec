"""Labels and annotations every rendered object carries (§24, §24B).

Service-scoped objects carry the load-bearing set (§24.1) plus the operational set (§24.2);
project-scoped objects carry the workspace and project ids, the tier, ``managed-by`` and, when
they belong to one environment, the environment. Every owned object carries the provenance
annotation ``starform.io/source`` (the cluster id).
"""

from __future__ import annotations

from typing import Any

from starform_core.kube import labels as kl
from starform_core.model.service import Service
from starform_core.render.scopes import ProjectIdentity, ServiceScope

__all__ = [
    "metadata",
    "pod_labels",
    "project_labels",
    "selector_labels",
    "service_labels",
    "service_metadata",
    "source_annotations",
]


def source_annotations(cluster_id: str) -> dict[str, str]:
    """Provenance (§24B): the cluster whose payload produced the object."""
    return {kl.ANNOTATION_SOURCE: cluster_id}


def project_labels(project: ProjectIdentity, *, environment: str | None = None) -> dict[str, str]:
    """Labels of project-scoped objects (``environment`` for environment-scoped ones)."""
    result = {
        kl.LABEL_WORKSPACE_ID: project.workspace_id,
        kl.LABEL_PROJECT_ID: project.project_id,
        kl.LABEL_TIER: project.tier.value,
        kl.LABEL_MANAGED_BY: kl.MANAGED_BY_VALUE,
    }
    if environment is not None:
        result[kl.LABEL_ENVIRONMENT] = environment
    return dict(sorted(result.items()))


def selector_labels(service: Service) -> dict[str, str]:
    """The immutable identity a Deployment and Service select pods by (never a version)."""
    return {kl.LABEL_ENVIRONMENT: service.environment, kl.LABEL_SERVICE_ID: service.service_id}


def pod_labels(scope: ServiceScope) -> dict[str, str]:
    """Pod template labels: load-bearing and operational, without the tier.

    The tier is left off pod templates so a plan change does not restart every workload.
    """
    return dict(scope.pod_labels)


def service_labels(scope: ServiceScope) -> dict[str, str]:
    """Labels of service-scoped objects: load-bearing plus operational (with the tier), and the
    ephemeral flag in a preview environment (FR-067)."""
    return dict(scope.labels)


def metadata(
    *,
    name: str,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str],
) -> dict[str, Any]:
    """An object's ``metadata`` block (keys sorted for deterministic output)."""
    result: dict[str, Any] = {"name": name}
    if namespace is not None:
        result["namespace"] = namespace
    result["labels"] = dict(sorted(labels.items()))
    result["annotations"] = dict(sorted(annotations.items()))
    return result


def service_metadata(scope: ServiceScope, name: str) -> dict[str, Any]:
    """The ``metadata`` block of a service-scoped object: its labels and provenance annotation.

    What :func:`metadata` gives for them, built directly: the scope's labels are sorted already
    and there is one annotation, so there is nothing to sort (a third of all objects' metadata).
    """
    return {
        "name": name,
        "namespace": scope.namespace,
        "labels": dict(scope.labels),
        "annotations": {kl.ANNOTATION_SOURCE: scope.cluster.cluster_id},
    }
