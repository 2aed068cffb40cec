"""The typing step of server-side apply: an apply configuration with a field the schema does not
declare is refused before anything merges, as structured-merge-diff refuses it.

kube-apiserver answers such an apply with ``500`` and ``failed to create typed patch object
(<namespace>/<name>; <group/version>, Kind=<kind>): <path>: field not declared in schema``,
whatever ``fieldValidation`` says; the path is structured-merge-diff's
(``.spec.template.spec.containers[name="app"].imagePullPolicyy``).
"""

from __future__ import annotations

import json
from typing import Any

from . import structure
from .errors import ApiError
from .resources import ResourceKind

__all__ = ["check_apply_typed"]


def _key_element(item: Any, keys: tuple[str, ...]) -> str:
    parts = [f"{k}={json.dumps(item.get(k), separators=(',', ':'))}" for k in keys if k in item]
    return f"[{','.join(parts)}]"


def _undeclared(value: Any, node: structure.Node, path: str) -> str | None:
    resolved = structure._resolve(node)
    if resolved is None:
        return None
    if isinstance(value, dict) and "properties" in resolved:
        properties = resolved["properties"]
        extra = resolved.get("additionalProperties")
        for key in value:
            if key not in properties and not extra:
                return f"{path}.{key}"
            found = _undeclared(value[key], structure.child(node, key), f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, dict) and structure.is_map_type(node):
        for key, entry in value.items():
            found = _undeclared(entry, structure.child(node, key), f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        info = structure.list_info(node)
        for index, entry in enumerate(value):
            if info.type == "map" and isinstance(entry, dict):
                element = _key_element(entry, info.keys)
            elif info.type == "set":
                element = f"[={json.dumps(entry, separators=(',', ':'))}]"
            else:
                element = f"[{index}]"
            found = _undeclared(entry, structure.item(node), f"{path}{element}")
            if found:
                return found
    return None


def check_apply_typed(kind: ResourceKind, namespace: str | None, name: str, config: dict[str, Any]) -> None:
    """Raise kube-apiserver's ``500`` when ``config`` has a field the kind's schema lacks."""
    if kind.is_crd:
        return  # custom resources are pruned to their schema instead
    path = _undeclared(config, structure.root(kind), "")
    if path is None:
        return
    group_version = kind.api_version
    raise ApiError(
        500,
        f"failed to create typed patch object ({namespace or ''}/{name}; {group_version}, Kind={kind.kind}): "
        f"{path}: field not declared in schema",
        reason="",
    )
