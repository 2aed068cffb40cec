"""The label and annotation catalog (§24, §24B): every key Starform puts on an object.

Load-bearing labels (§24.1) are required for correctness: tenant attribution, network isolation
and Shuttle's ownership (pruning selects on them). Operational labels (§24.2) are denormalised
conveniences. ``docs/kubernetes-objects.md`` lists them and a test keeps the page in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "ANNOTATION_DEPLOYMENT_VERSION",
    "ANNOTATION_DESIRED_HASH",
    "ANNOTATION_IMAGE",
    "ANNOTATION_PRUNE_PROTECTION",
    "ANNOTATION_SOURCE",
    "ANNOTATION_VAR_GROUP",
    "ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX",
    "FIELD_MANAGER",
    "LABEL_COMPONENT",
    "LABEL_ENVIRONMENT",
    "LABEL_EPHEMERAL",
    "LABEL_INSTANCE",
    "LABEL_MANAGED_BY",
    "LABEL_METADATA_NAME",
    "LABEL_NAME",
    "LABEL_OBSERVABILITY",
    "LABEL_PART_OF",
    "LABEL_POD_SECURITY_ENFORCE",
    "LABEL_PROJECT_ID",
    "LABEL_SERVICE_ID",
    "LABEL_SERVICE_NAME",
    "LABEL_SERVICE_TYPE",
    "LABEL_TIER",
    "LABEL_VOLUME_NAME",
    "LABEL_WORKSPACE_ID",
    "LOAD_BEARING_LABELS",
    "MANAGED_BY_VALUE",
    "OPERATIONAL_LABELS",
    "OWNERSHIP_SELECTOR",
    "POD_SECURITY_LEVEL",
    "PRUNE_PROTECTION_VOLUME",
    "service_id_of",
]

FIELD_MANAGER: Final = "shuttle"
"""Shuttle's server-side-apply field manager."""

MANAGED_BY_VALUE: Final = "shuttle"
"""Value of ``app.kubernetes.io/managed-by`` on everything Shuttle owns."""

# §24.1 load-bearing
LABEL_WORKSPACE_ID: Final = "starform.io/workspace-id"
LABEL_PROJECT_ID: Final = "starform.io/project-id"
LABEL_ENVIRONMENT: Final = "starform.io/environment"
LABEL_SERVICE_ID: Final = "starform.io/service-id"
LABEL_SERVICE_NAME: Final = "starform.io/service-name"
LABEL_SERVICE_TYPE: Final = "starform.io/service-type"
LABEL_OBSERVABILITY: Final = "starform.io/observability-enabled"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"

# §24.2 operational
LABEL_TIER: Final = "starform.io/tier"
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"

LOAD_BEARING_LABELS: Final = (
    LABEL_WORKSPACE_ID,
    LABEL_PROJECT_ID,
    LABEL_ENVIRONMENT,
    LABEL_SERVICE_ID,
    LABEL_SERVICE_NAME,
    LABEL_SERVICE_TYPE,
    LABEL_OBSERVABILITY,
    LABEL_MANAGED_BY,
)
"""§24.1: the labels every service-scoped object must carry."""

LABEL_EPHEMERAL: Final = "starform.io/ephemeral"
"""``"true"`` on the service-scoped objects (not pods) of an ephemeral (preview) environment: what
the per-route preview-metric suppression keys off (FR-067). Absent elsewhere; never by name."""

OPERATIONAL_LABELS: Final = (LABEL_TIER, LABEL_NAME, LABEL_INSTANCE, LABEL_COMPONENT, LABEL_PART_OF)
"""§24.2: denormalised conveniences for kubectl, dashboards and analytics (not billing)."""

OWNERSHIP_SELECTOR: Final = f"{LABEL_MANAGED_BY}={MANAGED_BY_VALUE}"
"""The label selector that finds everything Shuttle owns (and nothing else)."""

# §24B annotations
ANNOTATION_DESIRED_HASH: Final = "starform.io/desired-hash"
"""SHA-256 of the desired object Shuttle last applied: a changed desire is a hash mismatch."""
ANNOTATION_DEPLOYMENT_VERSION: Final = "starform.io/deployment-version"
"""On pod templates: the service's deployment (release) version."""
ANNOTATION_IMAGE: Final = "starform.io/image"
"""On pod templates: the image reference, pinned by digest."""
ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX: Final = "checksum.starform.io/"
"""On pod templates: ``checksum.starform.io/<var_group_id>`` = the group's keyed checksum (§38.7)."""
ANNOTATION_VAR_GROUP: Final = "starform.io/var-group-id"
"""On var group Secrets: the var group's id."""
ANNOTATION_SOURCE: Final = "starform.io/source"
"""Provenance: which Starbase cluster payload produced the object."""

# Added by the renderer (issue 3); documented in docs/kubernetes-objects.md.
LABEL_VOLUME_NAME: Final = "starform.io/volume-name"
"""On PersistentVolumeClaims: the name of the service volume the claim backs."""
LABEL_METADATA_NAME: Final = "kubernetes.io/metadata.name"
"""Set by the API server on every Namespace (and rendered too); NetworkPolicies select on it."""
LABEL_POD_SECURITY_ENFORCE: Final = "pod-security.kubernetes.io/enforce"
"""On project Namespaces: the Pod Security Standard admission enforces (``baseline``)."""
POD_SECURITY_LEVEL: Final = "baseline"
"""The Pod Security Standard level enforced in project namespaces."""
ANNOTATION_PRUNE_PROTECTION: Final = "starform.io/prune-protection"
"""On PersistentVolumeClaims (value ``volume``): the planner may hold the claim's deletion."""
PRUNE_PROTECTION_VOLUME: Final = "volume"
"""Value of :data:`ANNOTATION_PRUNE_PROTECTION` on claims that hold customer data."""


def service_id_of(obj: Mapping[str, Any]) -> str | None:
    """The service an object belongs to: its :data:`LABEL_SERVICE_ID` label (``None``: none)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(LABEL_SERVICE_ID) if isinstance(labels, Mapping) else None
    return value if isinstance(value, str) and value else None
