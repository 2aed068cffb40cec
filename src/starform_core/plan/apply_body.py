"""The body Shuttle applies: the desired object minus ignored fields, stamped with its hash."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from starform_core.kube.labels import ANNOTATION_DESIRED_HASH
from starform_core.kube.objects import KubeObject
from starform_core.plan.fields import FieldRule
from starform_core.plan.hashing import desired_hash, without_hash

__all__ = ["build_apply_body", "strip_fields"]


class _Removed:
    pass


_REMOVED: Final = _Removed()


def _strip(node: Any, segments: Sequence[str]) -> Any:
    if not segments:
        return _REMOVED
    head, rest = segments[0], segments[1:]
    if isinstance(node, Mapping):
        names = list(node) if head == "*" else ([head] if head in node else [])
        new: dict[str, Any] | None = None
        for name in names:
            result = _strip(node[name], rest)
            if result is node[name]:
                continue
            if new is None:
                new = dict(node)
            if result is _REMOVED:
                del new[name]
            else:
                new[name] = result
        return node if new is None else new
    if isinstance(node, list):
        if head == "*":
            indices = range(len(node))
        elif head.isdigit() and int(head) < len(node):
            indices = range(int(head), int(head) + 1)
        else:
            return node
        items = list(node)
        changed = False
        for index in indices:
            result = _strip(node[index], rest)
            if result is not node[index]:
                items[index] = result
                changed = True
        if not changed:
            return node
        return [item for item in items if item is not _REMOVED]
    return node


def _may_hold(obj: Any, segments: Sequence[str]) -> bool:
    """Cheap pre-check: False when the rule's path certainly does not exist in ``obj``."""
    node = obj
    for segment in segments:
        if segment == "*" or not isinstance(node, Mapping):
            return True
        node = node.get(segment)
        if node is None:
            return False
    return True


def strip_fields(obj: KubeObject, rules: Iterable[FieldRule]) -> KubeObject:
    """``obj`` without the fields ``rules`` name (copy on write: ``obj`` is never mutated)."""
    kind = obj.get("kind", "")
    result: Any = obj
    for rule in rules:
        if (rule.kind is None or rule.kind == kind) and _may_hold(result, rule.segments):
            stripped = _strip(result, rule.segments)
            result = {} if stripped is _REMOVED else stripped
    return result  # type: ignore[no-any-return]


def build_apply_body(desired: KubeObject, rules: Iterable[FieldRule] = ()) -> dict[str, Any]:
    """The server-side-apply body for ``desired``: ignored fields stripped, hash annotation set.

    The hash is computed over the stripped object, so changing what is ignored changes the hash.
    """
    stripped = strip_fields(without_hash(desired), rules)
    digest = desired_hash(stripped)
    body = dict(stripped)
    metadata = dict(body.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations[ANNOTATION_DESIRED_HASH] = digest
    metadata["annotations"] = annotations
    body["metadata"] = metadata
    return body
