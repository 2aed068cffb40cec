"""Drift: desired fields that no longer hold, fields other managers added, and who did it.

Both are judged per owned object whose desired hash matches (or for additions, always). Fields
are attributed to field managers through ``metadata.managedFields``; fields owned by the
cluster's controllers are never drift, and server defaults (which have no manager) are never
"additions".
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from starform_core.plan.actions import FieldChange
from starform_core.plan.fields import (
    Path,
    Segment,
    item_matches,
    managed_paths,
    resolve_fields_key,
    to_pointer,
)
from starform_core.plan.normalize import ASSOCIATIVE_KEYS, MISSING, Mismatch

__all__ = [
    "Attribution",
    "ManagerEntry",
    "field_changes",
    "find_additions",
    "manager_entries",
    "removal_guards",
    "removal_order",
]

_SECRET_FIELDS: Final = frozenset({"data", "stringData"})
_ADDABLE_METADATA: Final = frozenset({"f:labels", "f:annotations"})
_VALUE_LIMIT: Final = 200


@attrs.frozen
class ManagerEntry:
    """One ``managedFields`` entry: a manager, when it wrote, and the fields it owns."""

    manager: str
    time: str | None
    subresource: str | None
    fields: Mapping[str, Any] = attrs.field(repr=False)


def manager_entries(live: Mapping[str, Any]) -> list[ManagerEntry]:
    """The FieldsV1 ``managedFields`` entries of a live object (others are skipped)."""
    entries = []
    for raw in (live.get("metadata") or {}).get("managedFields") or ():
        fields = raw.get("fieldsV1")
        if not isinstance(fields, Mapping) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        entries.append(
            ManagerEntry(
                manager=str(raw.get("manager", "")),
                time=raw.get("time"),
                subresource=raw.get("subresource") or None,
                fields=fields,
            )
        )
    return entries


def _desired_child(key: str, segment: Segment, live_child: Any, desired: Any) -> Any:
    """The desired counterpart of the live field a FieldsV1 key names, or :data:`MISSING`."""
    prefix, body = key[:2], key[2:]
    if prefix == "f:":
        return desired.get(body, MISSING) if isinstance(desired, Mapping) else MISSING
    if not isinstance(desired, list):
        return MISSING
    if prefix == "k:":
        keys = json.loads(body)
        return next((item for item in desired if item_matches(item, keys)), MISSING)
    if prefix == "v:":
        return next((item for item in desired if item == live_child), MISSING)
    if prefix == "i:" and isinstance(segment, int) and segment < len(desired):
        return desired[segment]
    return MISSING


def find_additions(fields: Mapping[str, Any], live: Mapping[str, Any], desired: Any) -> list[Path]:
    """Live paths a manager's FieldsV1 owns that are absent from ``desired`` (a comparable view).

    Only the topmost absent field of each branch is reported. ``status`` and metadata other than
    labels and annotations are never additions.
    """
    found: list[Path] = []
    stack: list[tuple[Mapping[str, Any], Any, Any, Path]] = []
    for key, child in fields.items():
        if key in ("f:status", "f:apiVersion", "f:kind", "."):
            continue
        if key == "f:metadata":
            if isinstance(child, Mapping):
                meta = {k: v for k, v in child.items() if k in _ADDABLE_METADATA}
                stack.append(({key: meta}, live, desired, ()))
            continue
        stack.append(({key: child}, live, desired, ()))
    while stack:
        node, live_value, desired_value, path = stack.pop()
        for key, child in node.items():
            if key == ".":
                continue
            resolved = resolve_fields_key(key, live_value)
            if resolved is None:
                continue
            segment, live_child = resolved
            desired_child = _desired_child(key, segment, live_child, desired_value)
            child_path = (*path, segment)
            if desired_child is MISSING:
                found.append(child_path)
            elif isinstance(child, Mapping) and child:
                stack.append((child, live_child, desired_child, child_path))
    return found


def removal_guards(live: Mapping[str, Any], paths: Iterable[Path]) -> tuple[tuple[str, Any], ...]:
    """``(pointer, value)`` tests that pin down each list item in ``paths``: its merge keys (or,
    for a set item, its value). Map keys need none: removing a missing key fails by itself."""
    guards: list[tuple[str, Any]] = []
    for path in paths:
        if not path or not isinstance(path[-1], int):
            continue
        value: Any = live
        for segment in path:
            value = value[segment]
        field = str(path[-2]) if len(path) > 1 else ""
        if not isinstance(value, Mapping):
            guards.append((to_pointer(path), value))
            continue
        if field == "ports":
            names: tuple[str, ...] = ("containerPort",) if "containerPort" in value else ("port",)
        else:
            names = ASSOCIATIVE_KEYS.get(field, ())
        guards.extend((to_pointer((*path, n)), value[n]) for n in names if n in value)
    return tuple(guards)


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


class Attribution:
    """Which (non-Shuttle) manager owns each live path, built once per object on demand."""

    def __init__(self, entries: Sequence[ManagerEntry], live: Mapping[str, Any], own: str) -> None:
        self._owner: dict[Path, ManagerEntry] = {}
        for entry in entries:
            if entry.manager == own:
                continue
            for path in managed_paths(entry.fields, live):
                self._owner.setdefault(path, entry)

    def owner(self, path: Path | None) -> ManagerEntry | None:
        """The manager owning ``path`` or its nearest owned ancestor, if any."""
        if path is None:
            return None
        for end in range(len(path), 0, -1):
            entry = self._owner.get(path[:end])
            if entry is not None:
                return entry
        return None

    def controlled(self, path: Path | None, controllers: Collection[str]) -> bool:
        """True when a cluster controller owns ``path`` (so a difference there is not drift)."""
        entry = self.owner(path)
        return entry is not None and entry.manager in controllers


def _show(value: Any) -> str | None:
    if value is MISSING:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _secret(kind: str, path: Path) -> bool:
    return kind == "Secret" and bool(path) and path[0] in _SECRET_FIELDS


def _redacted_changes(mismatch: Mismatch, path: Path, who: ManagerEntry | None) -> list[FieldChange]:
    manager = who.manager if who else None
    time = who.time if who else None
    if len(path) == 1 and (isinstance(mismatch.desired, Mapping) or isinstance(mismatch.live, Mapping)):
        desired = mismatch.desired if isinstance(mismatch.desired, Mapping) else {}
        live = mismatch.live if isinstance(mismatch.live, Mapping) else {}
        names = sorted(k for k in set(desired) | set(live) if desired.get(k) != live.get(k))
        return [FieldChange(to_pointer((*path, n)), None, None, manager, time, redacted=True) for n in names]
    return [FieldChange(to_pointer(path), None, None, manager, time, redacted=True)]


def field_changes(
    kind: str, mismatches: Iterable[Mismatch], attribution: Attribution | None = None
) -> list[FieldChange]:
    """Human-readable, secret-redacted changes (live → desired) for ``mismatches``."""
    changes: list[FieldChange] = []
    for mismatch in mismatches:
        path = mismatch.desired_path
        who = attribution.owner(mismatch.live_path) if attribution else None
        if _secret(kind, path):
            changes.extend(_redacted_changes(mismatch, path, who))
            continue
        changes.append(
            FieldChange(
                to_pointer(path),
                _show(mismatch.live),
                _show(mismatch.desired),
                who.manager if who else None,
                who.time if who else None,
            )
        )
    return changes


def addition_changes(
    kind: str, live: Mapping[str, Any], paths: Iterable[Path], attribution: Attribution
) -> list[FieldChange]:
    """Changes describing fields to remove (live value → absent), secret-redacted."""
    changes = []
    for path in paths:
        who = attribution.owner(path)
        manager = who.manager if who else None
        time = who.time if who else None
        if _secret(kind, path):
            changes.append(FieldChange(to_pointer(path), None, None, manager, time, redacted=True))
            continue
        value: Any = live
        for segment in path:
            value = value[segment]
        changes.append(FieldChange(to_pointer(path), _show(value), None, manager, time))
    return changes
