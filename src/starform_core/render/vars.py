"""Var groups (§38): one Secret per group, attached with ``envFrom`` in ``attach_order``.

Later attachments win on duplicate keys, as Kubernetes resolves ``envFrom`` (the last source
of a key sets it). Conflicts are allowed; :func:`var_conflicts` reports them for the UI.
Secret values appear only here, base64-encoded in the Secret's ``data`` (as the API serves it).
"""

from __future__ import annotations

import base64
from typing import Any

import attrs

from starform_core.kube import labels as kl
from starform_core.model.project import Project
from starform_core.model.service import Service
from starform_core.render.metadata import metadata, project_labels, source_annotations
from starform_core.render.naming import var_group_secret_name
from starform_core.render.scopes import AttachedGroup, SecretScope, ServiceScope, attachable, attached

__all__ = [
    "VarConflict",
    "checksum_annotations",
    "conflicts_among",
    "env_from",
    "var_conflicts",
    "var_group_secret",
]


@attrs.frozen
class VarConflict:
    """One key set by several var groups attached to a service (a UI warning, not an error).

    ``var_group_ids`` lists the groups setting ``key`` in attach order; ``winner`` (the last) is
    the one whose value the container sees.
    """

    service_id: str
    key: str
    var_group_ids: tuple[str, ...]
    winner: str


def conflicts_among(service_id: str, groups: tuple[AttachedGroup, ...]) -> tuple[VarConflict, ...]:
    """Keys that more than one of ``groups`` (in attach order) sets, sorted by key."""
    setters: dict[str, list[str]] = {}
    for group in groups:
        for key in group.keys:
            setters.setdefault(key, []).append(group.var_group_id)
    return tuple(
        VarConflict(service_id=service_id, key=key, var_group_ids=tuple(ids), winner=ids[-1])
        for key, ids in sorted(setters.items())
        if len(ids) > 1
    )


def var_conflicts(project: Project, service: Service) -> tuple[VarConflict, ...]:
    """Keys that more than one attached var group sets, sorted by key (pure; no values)."""
    return conflicts_among(service.service_id, attached(attachable(project), service))


def env_from(scope: ServiceScope) -> list[dict[str, Any]]:
    """The container's ``envFrom``: one Secret reference per attached group, in attach order."""
    return [{"secretRef": {"name": group.secret_name, "optional": False}} for group in scope.groups]


def checksum_annotations(scope: ServiceScope) -> dict[str, str]:
    """``checksum.starform.io/<var_group_id>`` per attached group: a value change rolls pods."""
    return {
        f"{kl.ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX}{group.var_group_id}": group.checksum
        for group in scope.groups
    }


def var_group_secret(scope: SecretScope) -> dict[str, Any]:
    """The Secret of one var group: ``data`` holds each value base64-encoded.

    An environment-scoped group carries the environment label; a shared group is one Secret for
    every environment of the project. An empty group renders no ``data`` (as the API serves it).
    """
    group = scope.group
    annotations = source_annotations(scope.cluster_id)
    annotations[kl.ANNOTATION_VAR_GROUP] = group.var_group_id
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            name=var_group_secret_name(group.var_group_id),
            namespace=scope.project.namespace,
            labels=project_labels(scope.project, environment=group.environment),
            annotations=annotations,
        ),
        "type": "Opaque",
    }
    if group.entries:
        result["data"] = {
            key: base64.b64encode(value.reveal().encode()).decode("ascii") for key, value in group.entries
        }
    return result
