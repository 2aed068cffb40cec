"""The three classic PATCH flavours: JSON merge patch, JSON patch and strategic merge patch.

Strategic merge patch follows the schema's ``x-kubernetes-patch-merge-key`` /
``x-kubernetes-patch-strategy`` (containers and env by ``name``, container ports by
``containerPort``, Service ports by ``port``, volumes by ``name``, volumeMounts by
``mountPath``, imagePullSecrets by ``name``, ...) and the ``$patch: replace|delete|merge``,
``$retainKeys`` and ``$deleteFromPrimitiveList/<field>`` directives. ``$setElementOrder``
directives are accepted and ignored.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from . import structure
from ._json import Obj, clone
from .errors import ApiError

__all__ = ["json_merge_patch", "json_patch", "strategic_merge_patch"]


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge recursively, ``null`` deletes, lists replace."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def json_patch(target: Obj, patch: Any) -> Obj:
    """RFC 6902 JSON patch via :mod:`jsonpatch`; a failing operation is ``422``."""
    if not isinstance(patch, list):
        raise ApiError(400, "json patch must be a list of operations")
    try:
        result: Any = jsonpatch.apply_patch(target, patch, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        # kube-apiserver gives no detail of which operation failed, nor why
        raise ApiError(422, "the server rejected our request due to an error in our request") from exc
    if not isinstance(result, dict):
        raise ApiError(422, "json patch must leave an object")
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def strategic_merge_patch(target: Any, patch: Any, node: structure.Node) -> Any:
    """Apply a strategic merge patch to ``target`` using the schema ``node`` for list keys."""
    if not isinstance(patch, dict):
        return clone(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    result: Obj = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = structure.child(node, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, child)
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/") and isinstance(value, list):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: Any, patch: list[Any], node: structure.Node) -> list[Any]:
    info = structure.list_info(node)
    existing = list(current) if isinstance(current, list) else []
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [_strip_directives(v) for v in patch if not _is_directive_only(v)]
    if not info.patch_merge:
        return [_strip_directives(v) for v in patch]
    key = info.patch_key
    if key is None:
        merged = list(existing)
        for value in patch:
            if value not in merged:
                merged.append(clone(value))
        return merged
    item_node = structure.item(node)
    for value in patch:
        if not isinstance(value, dict):
            continue
        index = next(
            (i for i, v in enumerate(existing) if isinstance(v, dict) and v.get(key) == value.get(key)),
            None,
        )
        if value.get("$patch") == "delete":
            if index is not None:
                existing.pop(index)
            continue
        if index is None:
            existing.append(_strip_directives(value))
        else:
            existing[index] = strategic_merge_patch(existing[index], value, item_node)
    return existing


def _is_directive_only(value: Any) -> bool:
    return isinstance(value, dict) and all(k.startswith("$") for k in value)
