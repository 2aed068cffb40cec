"""Fields other managers added to an owned object, and how to remove them safely.

An *addition* is a field a manager (not Shuttle, not a cluster controller, not writing a
subresource) owns in ``managedFields`` that the desired object does not have. Server defaults
have no manager and are never additions. Removals are JSON-patch ``remove`` operations guarded by
``test`` operations that pin every list item a pointer goes through to the item it meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from starform_core.kube.associative_lists import ASSOCIATIVE_KEYS
from starform_core.plan.fields import (
    Path,
    Segment,
    is_member,
    item_keys,
    item_matches,
    resolve_fields_key,
    to_pointer,
)
from starform_core.plan.normalize import MISSING

__all__ = ["find_additions", "removal_guards", "removal_order"]

_ADDABLE_METADATA: Final = frozenset({"f:labels", "f:annotations"})
_NEVER_ADDED: Final = frozenset({"f:status", "f:apiVersion", "f:kind", "."})


def _desired_child(key: str, segment: Segment, live_child: Any, desired: Any) -> Any:
    """The desired counterpart of the live field a FieldsV1 key names, or :data:`MISSING`."""
    prefix, body = key[:2], key[2:]
    if prefix == "f:":
        return desired.get(body, MISSING) if isinstance(desired, Mapping) else MISSING
    if not isinstance(desired, list):
        return MISSING
    if prefix == "k:":
        keys = item_keys(body)
        if keys is None:
            return MISSING
        return next((item for item in desired if item_matches(item, keys)), MISSING)
    if prefix == "v:":
        return next((item for item in desired if item == live_child), MISSING)
    if prefix == "i:" and isinstance(segment, int) and segment < len(desired):
        return desired[segment]
    return MISSING


def _roots(fields: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Path]]:
    """The parts of a manager's tree that can hold additions (no status, only some metadata)."""
    roots: list[tuple[Mapping[str, Any], Path]] = []
    for key, child in fields.items():
        if key in _NEVER_ADDED:
            continue
        if key == "f:metadata":
            if isinstance(child, Mapping):
                meta = {k: v for k, v in child.items() if k in _ADDABLE_METADATA}
                roots.append(({key: meta}, ()))
            continue
        roots.append(({key: child}, ()))
    return roots


def find_additions(fields: Mapping[str, Any], live: Mapping[str, Any], desired: Any) -> list[Path]:
    """Live paths a manager's FieldsV1 owns that are absent from ``desired`` (a comparable view).

    A member absent from ``desired`` is reported whole (a new env var is one path, not its
    ``name`` and ``value``); a node the manager only passes through is searched for members.
    """
    found: list[Path] = []
    stack: list[tuple[Mapping[str, Any], Any, Any, Path]] = [
        (node, live, desired, path) for node, path in _roots(fields)
    ]
    while stack:
        node, live_value, desired_value, path = stack.pop()
        for key, child in node.items():
            if key == ".":
                continue
            resolved = resolve_fields_key(str(key), live_value)
            if resolved is None:
                continue
            segment, live_child = resolved
            desired_child = _desired_child(str(key), segment, live_child, desired_value)
            child_path = (*path, segment)
            if desired_child is MISSING and is_member(child):
                found.append(child_path)
            elif isinstance(child, Mapping) and child:
                stack.append((child, live_child, desired_child, child_path))
    return found


def _identity_names(field: str, item: Mapping[str, Any]) -> tuple[str, ...]:
    if field == "ports":
        return ("containerPort", "protocol") if "containerPort" in item else ("port", "protocol")
    return ASSOCIATIVE_KEYS.get(field, ())


def _item_guards(field: str, prefix: Path, item: Any) -> list[tuple[str, Any]]:
    """Tests that the list item at ``prefix`` is still ``item``: its merge keys, or its value."""
    if isinstance(item, Mapping):
        names = [n for n in _identity_names(field, item) if n in item]
        if names:
            return [(to_pointer((*prefix, n)), item[n]) for n in names]
    return [(to_pointer(prefix), item)]


def removal_guards(live: Mapping[str, Any], paths: Iterable[Path]) -> tuple[tuple[str, Any], ...]:
    """``(pointer, value)`` tests pinning every list item each path goes through (or ends at):
    its merge keys (a container by ``name``, a port by port and protocol), or for a positional
    item its whole value. Map keys need none: removing a missing key fails by itself."""
    guards: dict[str, Any] = {}
    for path in paths:
        node: Any = live
        for depth, segment in enumerate(path):
            node = node[segment]
            if isinstance(segment, int):
                field = str(path[depth - 1]) if depth else ""
                for pointer, value in _item_guards(field, path[: depth + 1], node):
                    guards.setdefault(pointer, value)
    return tuple(guards.items())


def removal_order(paths: Iterable[Path]) -> list[Path]:
    """Paths in an order safe for successive JSON-patch removals (higher list indices first).

    Paths below another listed path are dropped (removing the ancestor removes them).
    """
    unique = sorted(set(paths), key=len)
    kept: list[Path] = []
    for path in unique:
        if not any(path[: len(other)] == other for other in kept):
            kept.append(path)
    return sorted(
        kept, key=lambda p: tuple((1, s) if isinstance(s, int) else (0, s) for s in p), reverse=True
    )
