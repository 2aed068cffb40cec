"""Navigation of a kind's schema for merging: list types, merge keys, atomic maps.

Server-side apply and strategic merge patch both need to know, at every path of an object,
whether a list is atomic, a set, or a map keyed by some fields, and which key strategic
merge patch uses. The OpenAPI extensions (``x-kubernetes-list-type``, ``-list-map-keys``,
``-patch-merge-key``, ``-patch-strategy``, ``-map-type``) carry that; this module reads them.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

from ._json import Obj
from .resources import ResourceKind
from .schemas import definitions, kind_schema

__all__ = ["ListInfo", "Node", "child", "is_atomic", "is_map_type", "item", "list_info", "root"]

Node = Obj | None
"""A schema node, or ``None`` where the schema says nothing (treated as untyped)."""


@attrs.frozen
class ListInfo:
    """How a list merges: ``type`` is ``atomic``, ``set`` or ``map``; ``keys`` its map keys."""

    type: str
    keys: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    patch_key: str | None = attrs.field(default=None, kw_only=True)
    patch_merge: bool = attrs.field(default=False, kw_only=True)


_ATOMIC = ListInfo("atomic")


def root(kind: ResourceKind) -> Node:
    """The root schema node of ``kind``."""
    return kind_schema(kind)


def _resolve(node: Node) -> Node:
    seen = 0
    while node is not None and "$ref" in node and seen < 20:
        ref: str = node["$ref"]
        name = ref.rsplit("/", 1)[-1]
        target: Any = definitions()["$defs"].get(name)
        node = target
        seen += 1
    if node is not None and "allOf" in node and "properties" not in node:
        parts = node["allOf"]
        if len(parts) == 1:
            return _resolve(parts[0])
    return node


def child(node: Node, key: str) -> Node:
    """The schema of property ``key`` of an object node."""
    node = _resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    if props and key in props:
        return _resolve(props[key])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return _resolve(extra)
    return None


def is_map_type(node: Node) -> bool:
    """Whether the node is a free-form map (``additionalProperties``) rather than a struct."""
    node = _resolve(node)
    return node is not None and "properties" not in node and "additionalProperties" in node


def item(node: Node) -> Node:
    """The schema of the items of a list node."""
    node = _resolve(node)
    if node is None:
        return None
    items = node.get("items")
    return _resolve(items) if isinstance(items, dict) else None


def is_atomic(node: Node) -> bool:
    """Whether a map node is owned and replaced as a whole (``x-kubernetes-map-type: atomic``)."""
    node = _resolve(node)
    return node is not None and node.get("x-kubernetes-map-type") in ("atomic",)


def list_info(node: Node) -> ListInfo:
    """How the list at ``node`` merges (atomic when the schema says nothing)."""
    node = _resolve(node)
    if node is None:
        return _ATOMIC
    return _list_info_cached(id(node), _Frozen(node))


class _Frozen:
    """Wraps a schema dict so :func:`functools.cache` can key on its identity."""

    def __init__(self, node: Obj) -> None:
        self.node = node

    def __hash__(self) -> int:
        return id(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and other.node is self.node


@functools.cache
def _list_info_cached(_ident: int, wrapped: _Frozen) -> ListInfo:
    node = wrapped.node
    list_type = node.get("x-kubernetes-list-type")
    keys = tuple(node.get("x-kubernetes-list-map-keys") or ())
    patch_key = node.get("x-kubernetes-patch-merge-key")
    strategy = str(node.get("x-kubernetes-patch-strategy") or "")
    patch_merge = "merge" in strategy.split(",")
    if list_type == "map" and keys:
        return ListInfo("map", keys=keys, patch_key=patch_key, patch_merge=patch_merge)
    if list_type == "set":
        return ListInfo("set", patch_key=patch_key, patch_merge=patch_merge)
    if list_type is None and patch_key and patch_merge:
        return ListInfo("map", keys=(patch_key,), patch_key=patch_key, patch_merge=patch_merge)
    if list_type is None and patch_merge:
        return ListInfo("set", patch_merge=True)
    return ListInfo("atomic", patch_key=patch_key, patch_merge=patch_merge)
