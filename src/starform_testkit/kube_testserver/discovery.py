"""Discovery documents: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<v>]``."""

from __future__ import annotations

import base64
import hashlib

from ._json import Obj
from .resources import ResourceKind, ResourceRegistry

__all__ = [
    "api_group",
    "api_group_list",
    "api_versions",
    "resource_list",
    "storage_version_hash",
    "version_info",
]

_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def version_info() -> Obj:
    """The ``/version`` document of a v1.37 server."""
    return {
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": "v1.37.0-starform-testserver",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions() -> Obj:
    """The ``/api`` document."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    }


def _group_entry(group: str, version: str) -> Obj:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list(registry: ResourceRegistry) -> Obj:
    """The ``/apis`` document: every served group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(g, v) for g, v in registry.groups()],
    }


def api_group(registry: ResourceRegistry, group: str) -> Obj | None:
    """The ``/apis/<group>`` document, or ``None`` when the group is not served."""
    for g, v in registry.groups():
        if g == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(g, v)}
    return None


def storage_version_hash(kind: ResourceKind) -> str:
    """kube-apiserver's ``storageVersionHash``: base64 of the first 8 bytes of the SHA-256 of
    ``<group>/<version>/<Kind>`` (the version it stores; the served one here)."""
    digest = hashlib.sha256(f"{kind.group}/{kind.version}/{kind.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resource(kind: ResourceKind) -> list[Obj]:
    main: Obj = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(_VERBS),
        "storageVersionHash": storage_version_hash(kind),
    }
    if kind.short_names:
        main["shortNames"] = list(kind.short_names)
    if kind.is_crd:
        main["categories"] = ["gateway-api"]
    out = [main]
    if kind.has_status:
        out.append(
            {
                "name": f"{kind.plural}/status",
                "singularName": "",
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if kind.kind in ("Deployment", "ReplicaSet"):
        out.append(
            {
                "name": f"{kind.plural}/scale",
                "singularName": "",
                "namespaced": kind.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }
        )
    return out


def resource_list(registry: ResourceRegistry, group: str, version: str) -> Obj | None:
    """The ``APIResourceList`` of one group version, or ``None`` when nothing is served there."""
    kinds = [k for k in registry if k.group == group and k.version == version]
    if not kinds:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for kind in kinds for entry in _resource(kind)],
    }
