"""The typing step of server-side apply: an apply configuration with a field the schema does not
declare is refused before anything merges, as structured-merge-diff refuses it.

kube-apiserver answers such an apply with ``500`` and ``failed to create typed patch object
(<namespace>/<name>; <group/version>, Kind=<kind>): <path>: field not declared in schema``,
whatever ``fieldValidation`` says; the path is structured-merge-diff's
(``.spec.template.spec.containers[name="app"].imagePullPolicyy``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs

from . import structure
from .errors import ApiError
from .resources import ResourceKind

__all__ = ["Undeclared", "check_apply_typed", "undeclared_fields"]


def _key_element(item: Any, keys: tuple[str, ...]) -> str:
    parts = [f"{k}={json.dumps(item.get(k), separators=(',', ':'))}" for k in keys if k in item]
    return f"[{','.join(parts)}]"


@attrs.frozen
class Undeclared:
    """A field the schema does not declare: where it is, and its path in both notations."""

    parent: dict[str, Any]
    key: str
    path: str
    """structured-merge-diff's path (``.spec.containers[name="app"].x``)."""
    indexed_path: str
    """The decoder's path (``spec.containers[0].x``)."""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, node: structure.Node, path: str, indexed: str) -> Iterator[Undeclared]:
    resolved = structure._resolve(node)
    if resolved is None:
        return
    if isinstance(value, dict) and "properties" in resolved:
        properties = resolved["properties"]
        extra = resolved.get("additionalProperties")
        for key in list(value):
            if key not in properties and not extra:
                yield Undeclared(value, key, f"{path}.{key}", _join(indexed, key))
            else:
                yield from _walk(value[key], structure.child(node, key), f"{path}.{key}", _join(indexed, key))
    elif isinstance(value, dict) and structure.is_map_type(node):
        for key, entry in value.items():
            yield from _walk(entry, structure.child(node, key), f"{path}.{key}", _join(indexed, key))
    elif isinstance(value, list):
        info = structure.list_info(node)
        for index, entry in enumerate(value):
            if info.type == "map" and isinstance(entry, dict):
                element = _key_element(entry, info.keys)
            elif info.type == "set":
                element = f"[={json.dumps(entry, separators=(',', ':'))}]"
            else:
                element = f"[{index}]"
            yield from _walk(entry, structure.item(node), f"{path}{element}", f"{indexed}[{index}]")


def undeclared_fields(kind: ResourceKind, obj: dict[str, Any]) -> list[Undeclared]:
    """Every field of ``obj`` the kind's schema does not declare (none for custom resources,
    which are pruned to their schema instead)."""
    if kind.is_crd:
        return []
    return list(_walk(obj, structure.root(kind), "", ""))


def check_apply_typed(kind: ResourceKind, namespace: str | None, name: str, config: dict[str, Any]) -> None:
    """Raise kube-apiserver's ``500`` when ``config`` has a field the kind's schema lacks."""
    found = undeclared_fields(kind, config)
    if not found:
        return
    path = found[0].path
    group_version = kind.api_version
    raise ApiError(
        500,
        f"failed to create typed patch object ({namespace or ''}/{name}; {group_version}, Kind={kind.kind}): "
        f"{path}: field not declared in schema",
        reason="",
    )
