"""Kubernetes objects inside the core: plain JSON-like mappings plus a typed identity.

The core speaks what the API speaks (dicts and lists); :class:`ObjectKey` is the only typed view,
used to index, order and report objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

__all__ = ["KubeObject", "ObjectKey", "key_of"]

KubeObject: TypeAlias = Mapping[str, Any]
"""A Kubernetes object as the API serves it (``apiVersion``, ``kind``, ``metadata``, ...)."""


@attrs.frozen(order=True)
class ObjectKey:
    """An object's identity: API group, kind, namespace and name (the version is not identity)."""

    group: str
    kind: str
    namespace: str
    name: str
    version: str = attrs.field(eq=False, order=False, default="v1")

    @property
    def api_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind} {where}{self.name}"


def key_of(obj: KubeObject) -> ObjectKey:
    """The identity of a Kubernetes object (namespace ``""`` for cluster-scoped objects)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    metadata = obj.get("metadata") or {}
    return ObjectKey(
        group=group,
        kind=str(obj.get("kind", "")),
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name", "")),
        version=version,
    )
