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
from starform_core.model.cluster import ClusterSettings
from starform_core.model.project import Project
from starform_core.model.service import Service
from starform_core.model.vargroup import VarGroup
from starform_core.render.metadata import metadata, project_labels, source_annotations
from starform_core.render.naming import namespace_name, var_group_secret_name

__all__ = [
    "VarConflict",
    "attached_groups",
    "checksum_annotations",
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


def attached_groups(project: Project, service: Service) -> tuple[VarGroup, ...]:
    """The var groups attached to ``service``, in attach order (earliest first)."""
    groups = {group.var_group_id: group for group in project.var_groups}
    ordered = sorted(service.var_groups, key=lambda a: a.attach_order)
    return tuple(groups[a.var_group_id] for a in ordered if a.var_group_id in groups)


def var_conflicts(project: Project, service: Service) -> tuple[VarConflict, ...]:
    """Keys that more than one attached var group sets, sorted by key (pure; no values)."""
    setters: dict[str, list[str]] = {}
    for group in attached_groups(project, service):
        for key, _ in group.entries:
            setters.setdefault(key, []).append(group.var_group_id)
    return tuple(
        VarConflict(service_id=service.service_id, key=key, var_group_ids=tuple(ids), winner=ids[-1])
        for key, ids in sorted(setters.items())
        if len(ids) > 1
    )


def env_from(project: Project, service: Service) -> list[dict[str, Any]]:
    """The container's ``envFrom``: one Secret reference per attached group, in attach order."""
    return [
        {"secretRef": {"name": var_group_secret_name(group.var_group_id), "optional": False}}
        for group in attached_groups(project, service)
    ]


def checksum_annotations(project: Project, service: Service) -> dict[str, str]:
    """``checksum.starform.io/<var_group_id>`` per attached group: a value change rolls pods."""
    return {
        f"{kl.ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX}{group.var_group_id}": group.checksum
        for group in attached_groups(project, service)
    }


def var_group_secret(cluster: ClusterSettings, project: Project, group: VarGroup) -> dict[str, Any]:
    """The Secret of one var group: ``data`` holds each value base64-encoded.

    An environment-scoped group carries the environment label; a shared group is one Secret for
    every environment of the project. An empty group renders no ``data`` (as the API serves it).
    """
    annotations = source_annotations(cluster)
    annotations[kl.ANNOTATION_VAR_GROUP] = group.var_group_id
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(
            name=var_group_secret_name(group.var_group_id),
            namespace=namespace_name(project.project_id),
            labels=project_labels(project, environment=group.environment),
            annotations=annotations,
        ),
        "type": "Opaque",
    }
    if group.entries:
        result["data"] = {
            key: base64.b64encode(value.reveal().encode()).decode("ascii") for key, value in group.entries
        }
    return result
