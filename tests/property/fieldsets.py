"""Field sets as structured-merge-diff computes them, for the server-side-apply model.

An independent oracle for the planner: its own schema knowledge (merge keys, atomic fields,
Go value structs) and its own FieldsV1 encoding. A path is a tuple of FieldsV1 elements:
``("f:spec", "f:containers", 'k:{"name":"app"}', "f:image")``.

* ``apply_set(config)``: what an Apply owns: every leaf, every list item of an associative list
  (``.``), atomic lists and maps whole (``args``, a label selector), empty maps and lists as leaves.
* ``compare(old, new)``: SMD's ``Compare``: *added* nodes (inner ones too, so a map or list an
  Update creates gets a ``.``; Go value structs such as ``spec`` or ``resources`` exist whenever
  their parent does, so they are not added), *modified* leaves, *removed* nodes.
* ``encode(paths)``: the FieldsV1 tree, ``".": {}`` on members that have members below.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

FPath = tuple[str, ...]
"""A field in FieldsV1 terms."""

INNER = object()
"""Marks an inner node (a granular map, an associative list, a list item) in a flattened value."""

MERGE_KEYS: Mapping[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
}
ATOMIC_MAPS = frozenset({"selector", "podSelector", "namespaceSelector", "nodeSelector"})
"""Maps and structs owned and replaced whole (``+mapType=atomic``, ``+structType=atomic``)."""
VALUE_STRUCTS = frozenset(
    {"metadata", "spec", "status", "template", "jobTemplate", "strategy", "resources", "containers"}
)
"""Go value structs and non-``omitempty`` lists: present whenever their parent is, so an Update
never *adds* them (no ``.``)."""
_KEY_DEFAULTS = {"protocol": "TCP"}


def key_names(field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The merge keys of the list ``field`` (``None``: an atomic list)."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        if all("containerPort" in i for i in items):
            return ("containerPort", "protocol")
        if all("port" in i for i in items):
            return ("port", "protocol")
        return None
    return MERGE_KEYS.get(field)


def item_key(names: tuple[str, ...], item: Mapping[str, Any]) -> str:
    """The ``k:{...}`` element of an associative-list item (a port's protocol defaults to TCP)."""
    keys = {n: item.get(n, _KEY_DEFAULTS.get(n)) for n in names}
    return "k:" + json.dumps(keys, sort_keys=True, separators=(",", ":"))


def matches(item: Any, element: str) -> bool:
    """True when ``item`` is the list item the ``k:{...}`` element names."""
    want = json.loads(element[2:])
    return isinstance(item, dict) and all(item.get(n, _KEY_DEFAULTS.get(n)) == v for n, v in want.items())


def flatten(value: Mapping[str, Any], prefix: FPath = ()) -> dict[FPath, Any]:
    """Every node of ``value``: inner nodes map to :data:`INNER`, leaves to their value."""
    out: dict[FPath, Any] = {}
    for name, child in value.items():
        path = (*prefix, f"f:{name}")
        if isinstance(child, dict) and child and name not in ATOMIC_MAPS:
            out[path] = INNER
            out.update(flatten(child, path))
            continue
        names = key_names(name, child) if isinstance(child, list) and child else None
        if names is None:
            out[path] = child
            continue
        out[path] = INNER
        for item in child:
            item_path = (*path, item_key(names, item))
            out[item_path] = INNER
            out.update(flatten(item, item_path))
    return out


def _object_parts(obj: Mapping[str, Any], *, status: bool) -> dict[str, Any]:
    if status:
        return {"status": obj["status"]} if "status" in obj else {}
    parts = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k in ("labels", "annotations")}
    if meta:
        parts["metadata"] = meta
    return parts


def object_nodes(obj: Mapping[str, Any], *, subresource: str = "") -> dict[FPath, Any]:
    """The flattened fields of an object that a write to ``subresource`` can touch."""
    if subresource == "status":
        return flatten(_object_parts(obj, status=True))
    return flatten(_object_parts(obj, status=False))


def apply_set(config: Mapping[str, Any]) -> set[FPath]:
    """The fields an applied configuration owns: leaves and list items (``.``)."""
    nodes = flatten(_object_parts(config, status=False))
    return {p for p, v in nodes.items() if v is not INNER or p[-1].startswith("k:")}


def _exists(path: FPath, old: Mapping[FPath, Any]) -> bool:
    """True when ``path`` exists in the old object, counting Go value structs as existing."""
    while path:
        if path in old:
            return True
        if not (path[-1].startswith("f:") and path[-1][2:] in VALUE_STRUCTS):
            return False
        path = path[:-1]
    return True


def compare(old: Mapping[FPath, Any], new: Mapping[FPath, Any]) -> tuple[set[FPath], set[FPath], set[FPath]]:
    """(added, modified, removed) between two flattened objects, as SMD's ``Compare``."""
    added = {p for p in new if not _exists(p, old)}
    modified = set()
    for path, value in new.items():
        if path not in old:
            continue
        before = old[path]
        if (value is INNER) != (before is INNER):
            # a granular map or list emptied (or filled) is not itself modified, its items are
            if (before if value is INNER else value) not in ({}, []):
                modified.add(path)
        elif value is not INNER and before != value:
            modified.add(path)
    removed = {p for p in old if p not in new}
    return added, modified, removed


def encode(paths: Iterable[FPath]) -> dict[str, Any]:
    """The FieldsV1 tree of a field set."""
    members = set(paths)
    tree: dict[str, Any] = {}
    for path in members:
        node = tree
        for element in path:
            node = node.setdefault(element, {})

    def mark(node: dict[str, Any], prefix: FPath) -> dict[str, Any]:
        out: dict[str, Any] = {".": {}} if node and prefix in members else {}
        for element in sorted(node):
            out[element] = mark(node[element], (*prefix, element))
        return out

    return mark(tree, ())


def resolve(value: Any, path: FPath) -> tuple[Any, Any] | None:
    """(container, key or index) of the field ``path`` names in ``value``, or ``None``."""
    parent: Any = None
    where: Any = None
    node = value
    for element in path:
        if element.startswith("f:"):
            if not isinstance(node, dict) or element[2:] not in node:
                return None
            parent, where, node = node, element[2:], node[element[2:]]
        else:
            if not isinstance(node, list):
                return None
            index = next((i for i, item in enumerate(node) if matches(item, element)), None)
            if index is None:
                return None
            parent, where, node = node, index, node[index]
    return (parent, where)
