"""Who owns a live field, by ``metadata.managedFields``, with structured-merge-diff semantics.

A manager owns a field when its FieldsV1 tree names the field as a member (a leaf, or a node
marked ``.``), or names an *atomic* ancestor of it: a leaf over a map or list below which nobody
owns anything (an atomic list such as ``args``, an atomic map such as a label selector). A node a
manager's tree only passes through is not owned by it, so a field that was deleted (and so is
named by nobody) has no owner at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from starform_core.plan.fields import Path, is_member, member_paths, resolve_fields_key

__all__ = [
    "Attribution",
    "ManagerEntry",
    "applied_entry",
    "manager_entries",
    "names_field",
    "shuttle_applied",
]


@attrs.frozen
class ManagerEntry:
    """One ``managedFields`` entry: a manager, how and when it wrote, and the fields it owns."""

    manager: str
    time: str | None
    subresource: str | None
    fields: Mapping[str, Any] = attrs.field(repr=False)
    operation: str = "Update"


def _text(value: Any) -> str | None:
    """A timestamp as text (YAML loaders may have turned an unquoted one into a datetime)."""
    if value is None:
        return None
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        text = str(isoformat())
        return text.replace("+00:00", "Z")
    return str(value)


def manager_entries(live: Mapping[str, Any]) -> list[ManagerEntry]:
    """The FieldsV1 ``managedFields`` entries of a live object (others are skipped)."""
    entries = []
    raw_entries = (live.get("metadata") or {}).get("managedFields") or ()
    if not isinstance(raw_entries, list):
        return []
    for raw in raw_entries:
        if not isinstance(raw, Mapping):
            continue
        fields = raw.get("fieldsV1")
        if not isinstance(fields, Mapping) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        entries.append(
            ManagerEntry(
                manager=str(raw.get("manager", "")),
                time=_text(raw.get("time")),
                subresource=str(raw.get("subresource") or "") or None,
                fields=fields,
                operation=str(raw.get("operation") or "Update"),
            )
        )
    return entries


def applied_entry(entries: Sequence[ManagerEntry], manager: str) -> ManagerEntry | None:
    """``manager``'s server-side apply of the whole object (not of a subresource), if any."""
    for entry in entries:
        if entry.manager == manager and entry.operation == "Apply" and not entry.subresource:
            return entry
    return None


def shuttle_applied(live: Mapping[str, Any], manager: str) -> bool:
    """True when ``managedFields`` show a server-side apply of the whole object by ``manager``."""
    return applied_entry(manager_entries(live), manager) is not None


def _child(node: Mapping[str, Any], value: Any, segment: str | int) -> tuple[Any, Any]:
    if isinstance(segment, str):
        return node.get(f"f:{segment}"), value.get(segment) if isinstance(value, Mapping) else None
    for key, child in node.items():
        resolved = resolve_fields_key(str(key), value) if key != "." else None
        if resolved is not None and resolved[0] == segment:
            return child, resolved[1]
    return None, None


def names_field(fields: Mapping[str, Any], live: Mapping[str, Any], path: Path) -> bool:
    """True when a FieldsV1 tree names ``path`` as a member, even if the live object does not
    hold the field (the server drops ``false``/``0``/``""`` from ``omitempty`` fields)."""
    node: Any = fields
    value: Any = live
    for segment in path:
        if not isinstance(node, Mapping):
            return False
        node, value = _child(node, value, segment)
        if node is None:
            return False
    return is_member(node)


def _value_at(live: Any, path: Path) -> Any:
    node = live
    for segment in path:
        if isinstance(node, Mapping) and isinstance(segment, str):
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
        else:
            return None
    return node


def _latest(entries: Sequence[ManagerEntry]) -> ManagerEntry:
    return max(entries, key=lambda e: (e.time or "", e.manager))


class Attribution:
    """Which managers (other than ``own``) own each live path; built once per object on demand."""

    def __init__(self, entries: Sequence[ManagerEntry], live: Mapping[str, Any], own: str) -> None:
        self._live = live
        self._exact: dict[Path, list[ManagerEntry]] = {}
        self._leaves: set[Path] = set()
        self._above: set[Path] = set()
        for entry in entries:
            for path, leaf in member_paths(entry.fields, live):
                self._above.update(path[:end] for end in range(1, len(path)))
                if entry.manager == own:
                    continue
                self._exact.setdefault(path, []).append(entry)
                if leaf:
                    self._leaves.add(path)

    def _atomic(self, path: Path) -> bool:
        if path not in self._leaves or path in self._above:
            return False
        return isinstance(_value_at(self._live, path), Mapping | list)

    def owners(self, path: Path | None) -> Sequence[ManagerEntry]:
        """The managers owning ``path`` itself, or else an atomic ancestor of it (maybe none)."""
        if path is None:
            return ()
        exact = self._exact.get(path)
        if exact:
            return exact
        for end in range(len(path) - 1, 0, -1):
            prefix = path[:end]
            if self._atomic(prefix):
                return self._exact[prefix]
        return ()

    def owner(self, path: Path | None) -> ManagerEntry | None:
        """The manager that last wrote ``path`` (of its owners), or ``None`` when nobody owns it."""
        found = self.owners(path)
        return _latest(found) if found else None

    def controlled(self, path: Path | None, controllers: Collection[str]) -> bool:
        """True when a cluster controller owns ``path`` (so a difference there is not drift)."""
        return any(entry.manager in controllers for entry in self.owners(path))
