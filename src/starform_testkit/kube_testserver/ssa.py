"""Server-side apply and ``managedFields`` bookkeeping, modelled on structured-merge-diff.

Field sets are sets of paths; a path is a tuple of elements written exactly as in
``fieldsV1`` (``f:<field>``, ``k:{"name":"x"}`` for items of associative lists, ``v:<json>``
for items of set lists). A set encodes to the nested ``fieldsV1`` mapping, with ``".": {}``
marking a node that is itself a member and has members below it.

* Apply owns exactly the leaves and list items of the applied configuration (so server-side
  defaults are owned by nobody), conflicts with other managers on fields whose value it
  changes, and removes fields it stopped applying unless another manager still owns them.
* Update (create, PUT, merge/JSON/strategic patch) gives the writer every field its write
  added or changed and takes those fields away from the other managers.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from . import structure
from ._json import Obj, canonical, clone, format_time
from .errors import ApiError

__all__ = [
    "FieldPath",
    "ManagerKey",
    "apply_config",
    "decode_fields",
    "encode_fields",
    "fieldset",
    "render_path",
    "update_managed_fields",
]

FieldPath = tuple[str, ...]
"""A field path in ``fieldsV1`` element form, e.g. ``("f:spec", "f:replicas")``."""

_LEAF, _ITEM, _MAP, _LIST = range(4)
_Entries = dict[FieldPath, tuple[int, Any]]

_IGNORED_META = frozenset(
    {
        "name",
        "namespace",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


@attrs.frozen
class ManagerKey:
    """Identifies one ``managedFields`` entry: manager, operation and subresource."""

    manager: str
    operation: str
    subresource: str = attrs.field(default="", kw_only=True)


def _key_json(item: Obj, keys: tuple[str, ...], item_node: structure.Node) -> str:
    values: dict[str, Any] = {}
    for key in keys:
        if key in item:
            values[key] = item[key]
        else:
            sub = structure.child(item_node, key)
            if sub is not None and "default" in sub:
                values[key] = sub["default"]
            elif key == "protocol":
                values[key] = "TCP"
    return canonical(values)


def _walk(value: Any, node: structure.Node, path: FieldPath, out: _Entries, in_map: bool) -> None:
    if isinstance(value, dict):
        if not value or structure.is_atomic(node):
            out[path] = (_LEAF, value)
            return
        out[path] = (_ITEM if in_map else _MAP, None)
        is_map = structure.is_map_type(node)
        for key, sub in value.items():
            _walk(sub, structure.child(node, key), (*path, f"f:{key}"), out, is_map)
        return
    if isinstance(value, list):
        info = structure.list_info(node)
        if info.type == "map" and all(isinstance(v, dict) for v in value):
            out[path] = (_LIST, None)
            item_node = structure.item(node)
            for entry in value:
                item_path = (*path, "k:" + _key_json(entry, info.keys, item_node))
                out[item_path] = (_ITEM, None)
                for key, sub in entry.items():
                    _walk(sub, structure.child(item_node, key), (*item_path, f"f:{key}"), out, False)
            return
        if info.type == "set":
            out[path] = (_LIST, None)
            for entry in value:
                out[(*path, "v:" + canonical(entry))] = (_ITEM, None)
            return
    out[path] = (_LEAF, value)


def _entries(obj: Obj, node: structure.Node) -> _Entries:
    out: _Entries = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _IGNORED_META}
            if meta:
                _walk(meta, structure.child(node, "metadata"), ("f:metadata",), out, False)
            continue
        _walk(value, structure.child(node, key), (f"f:{key}",), out, False)
    return out


_ALWAYS_PRESENT = frozenset(
    {
        "f:metadata",
        "f:spec",
        "f:status",
        "f:template",
        "f:jobTemplate",
        "f:strategy",
        "f:resources",
        "f:containers",
    }
)
"""Fields Go always serializes where their parent exists (value structs such as ``spec`` or a
container's ``resources``, and non-``omitempty`` lists such as ``containers``): an Update that
fills them does not *add* them, so they get no ``.`` marker."""


def _existed(path: FieldPath, before: _Entries) -> bool:
    """Whether ``path`` was present in the old object, as Go would have serialized it."""
    while path:
        if path in before:
            return True
        if path[-1] not in _ALWAYS_PRESENT:
            return False
        path = path[:-1]
    return True


def fieldset(obj: Obj, node: structure.Node) -> set[FieldPath]:
    """The set of fields an applied configuration ``obj`` owns (leaves and list items)."""
    return {p for p, (kind, _) in _entries(obj, node).items() if kind in (_LEAF, _ITEM)}


_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def encode_fields(paths: Iterable[FieldPath]) -> Obj:
    """Encode a field set as a ``fieldsV1`` mapping."""
    members = set(paths)
    tree: Obj = {}
    for path in members:
        node = tree
        for element in path:
            node = node.setdefault(element, {})

    def render(node: Obj, prefix: FieldPath) -> Obj:
        out: Obj = {}
        if node and prefix in members:
            out["."] = {}
        for element in sorted(node, key=lambda e: (_ORDER.get(e[0], 9), e)):
            out[element] = render(node[element], (*prefix, element))
        return out

    return render(tree, ())


def decode_fields(fields: Obj, *, prefix: FieldPath = ()) -> set[FieldPath]:
    """Decode a ``fieldsV1`` mapping into a field set."""
    out: set[FieldPath] = set()
    for element, sub in fields.items():
        if element == ".":
            out.add(prefix)
            continue
        path = (*prefix, element)
        if sub:
            out |= decode_fields(sub, prefix=path)
        else:
            out.add(path)
    return out


def render_path(path: FieldPath) -> str:
    """Render a path the way conflict messages do: ``.spec.containers[name="app"].image``."""
    text = ""
    for element in path:
        tag, body = element[0], element[2:]
        if tag == "f":
            text += f".{body}"
        elif tag == "k":
            keys = json.loads(body)
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        else:
            text += f"[={body}]"
    return text


_Sets = dict[ManagerKey, tuple[set[FieldPath], Obj]]


def _decode_managed(obj: Obj | None) -> _Sets:
    sets: _Sets = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or ():
        if not isinstance(entry, dict) or not entry.get("manager"):
            continue
        key = ManagerKey(
            entry["manager"],
            entry.get("operation", "Update"),
            subresource=entry.get("subresource", ""),
        )
        sets[key] = (decode_fields(entry.get("fieldsV1") or {}), dict(entry))
    return sets


def _encode_managed(sets: _Sets, touched: set[ManagerKey], api_version: str, now: str) -> list[Obj]:
    entries: list[Obj] = []
    for key, (paths, old) in sets.items():
        if not paths:
            continue
        entry: Obj = {
            "manager": key.manager,
            "operation": key.operation,
            "apiVersion": old.get("apiVersion", api_version),
            "time": old.get("time", now),
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields(paths),
        }
        if key in touched:
            entry["apiVersion"] = api_version
            entry["time"] = now
        if key.subresource:
            entry["subresource"] = key.subresource
        entries.append(entry)
    entries.sort(key=lambda e: (e["operation"], e["time"], e["manager"], e["apiVersion"]))
    return entries


def update_managed_fields(
    old: Obj | None,
    new: Obj,
    node: structure.Node,
    *,
    manager: str,
    api_version: str,
    now: _dt.datetime,
    subresource: str = "",
) -> list[Obj]:
    """The ``managedFields`` after an Update-operation write of ``new`` over ``old``."""
    old_entries = _entries(old, node) if old else {}
    new_entries = _entries(new, node)
    changed: set[FieldPath] = set()
    for path, (kind, value) in new_entries.items():
        before = old_entries.get(path)
        if kind == _LEAF:
            if before is None or before[0] != _LEAF or before[1] != value:
                changed.add(path)
        elif not _existed(path, old_entries):
            changed.add(path)
    removed = {path for path in old_entries if path not in new_entries}
    sets = _decode_managed(old)
    if not changed and not removed:
        return list(((old or {}).get("metadata") or {}).get("managedFields") or [])
    mine = ManagerKey(manager, "Update", subresource=subresource)
    for key, (paths, _) in sets.items():
        if key != mine:
            paths -= changed | removed
    own, meta = sets.get(mine, (set(), {}))
    sets[mine] = ((own - removed) | changed, meta)
    touched = {mine} if changed or mine in sets else set()
    return _encode_managed(sets, touched, api_version, format_time(now))


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _merge(live: Any, config: Any, node: structure.Node) -> Any:
    if isinstance(config, dict) and isinstance(live, dict) and not structure.is_atomic(node):
        out = dict(live)
        for key, value in config.items():
            sub = structure.child(node, key)
            out[key] = _merge(live[key], value, sub) if key in live else clone(value)
        return out
    if isinstance(config, list) and isinstance(live, list):
        info = structure.list_info(node)
        if info.type == "map" and all(isinstance(v, dict) for v in config + live):
            item_node = structure.item(node)
            index = {_key_json(v, info.keys, item_node): i for i, v in enumerate(live)}
            out_list = list(live)
            for entry in config:
                position = index.get(_key_json(entry, info.keys, item_node))
                if position is None:
                    out_list.append(clone(entry))
                else:
                    out_list[position] = _merge(out_list[position], entry, item_node)
            return out_list
        if info.type == "set":
            return list(live) + [clone(v) for v in config if v not in live]
    return clone(config)


def _locate(container: Any, element: str, node: structure.Node) -> tuple[Any, structure.Node]:
    tag, body = element[0], element[2:]
    if tag == "f":
        if isinstance(container, dict):
            return container.get(body), structure.child(node, body)
        return None, None
    if not isinstance(container, list):
        return None, None
    if tag == "k":
        info = structure.list_info(node)
        item_node = structure.item(node)
        for entry in container:
            if isinstance(entry, dict) and _key_json(entry, info.keys, item_node) == canonical(
                json.loads(body)
            ):
                return entry, item_node
        return None, None
    wanted = json.loads(body)
    for entry in container:
        if entry == wanted:
            return entry, structure.item(node)
    return None, None


def _remove(obj: Obj, path: FieldPath, node: structure.Node) -> None:
    chain: list[tuple[Any, structure.Node]] = [(obj, node)]
    current: Any = obj
    current_node = node
    for element in path[:-1]:
        current, current_node = _locate(current, element, current_node)
        if current is None:
            return
        chain.append((current, current_node))
    for depth in range(len(path) - 1, -1, -1):
        container, container_node = chain[depth]
        element = path[depth]
        if element.startswith("f:") and isinstance(container, dict):
            container.pop(element[2:], None)
        elif isinstance(container, list):
            target, _ = _locate(container, element, container_node)
            if target is not None:
                container[:] = [v for v in container if v is not target]
        if depth < 2 or container:
            break


def _is_item_key(path: FieldPath) -> bool:
    if len(path) < 2 or not path[-2].startswith("k:") or not path[-1].startswith("f:"):
        return False
    return path[-1][2:] in json.loads(path[-2][2:])


def _owned_by(paths: set[FieldPath], path: FieldPath) -> bool:
    size = len(path)
    return any(p[:size] == path for p in paths)


def _applied_part(config: Obj, subresource: str) -> Obj:
    """What an apply configuration sets: no nulls, no server-owned metadata, and only the
    status (for the status subresource) or everything but the status."""
    config = _strip_nulls(config)
    meta_in = config.get("metadata") or {}
    config["metadata"] = {k: v for k, v in meta_in.items() if k not in _IGNORED_META}
    if subresource == "status":
        return {"metadata": {}, "status": config.get("status") or {}}
    config.pop("status", None)
    return config


def _changed_by_apply(
    live: Obj | None, merged: Obj, applied: set[FieldPath], node: structure.Node
) -> set[FieldPath]:
    """The applied fields the merge adds or whose leaf value it changes (conflict candidates)."""
    live_entries = _entries(live, node) if live else {}
    merged_entries = _entries(merged, node)
    changed: set[FieldPath] = set()
    for path in applied:
        before, after = live_entries.get(path), merged_entries.get(path)
        if before is None or (after is not None and after[0] == _LEAF and before != after):
            changed.add(path)
    return changed


def apply_config(
    live: Obj | None,
    config: Obj,
    node: structure.Node,
    *,
    manager: str,
    force: bool,
    api_version: str,
    now: _dt.datetime,
    subresource: str = "",
    prepare: Callable[[Obj], None] | None = None,
) -> tuple[Obj, list[Obj]]:
    """Merge an applied configuration into ``live``; return the object and its managedFields.

    ``prepare`` (the server-side defaulting) runs on the merged object before conflicts are
    computed, so a configuration that leaves defaulted fields out does not conflict.

    Raises ``409 Conflict`` (with one cause per conflicting field) when another manager owns
    a field whose value the configuration changes and ``force`` is off.
    """
    config = _applied_part(config, subresource)
    base: Obj = clone(live) if live else {}
    merged: Obj = _merge(base, config, node)
    applied = fieldset(config, node)
    sets = _decode_managed(live)
    mine = ManagerKey(manager, "Apply", subresource=subresource)
    previous, mine_meta = sets.get(mine, (set(), {}))
    others = {k: v[0] for k, v in sets.items() if k != mine}
    for path in sorted(previous - applied, key=len):
        if _is_item_key(path):
            continue
        if not any(_owned_by(paths, path) for paths in others.values()):
            _remove(merged, path, node)
    if prepare is not None:
        prepare(merged)
    changed = _changed_by_apply(live, merged, applied, node)
    conflicts = [(key, path) for key, paths in others.items() for path in sorted(changed & paths)]
    if conflicts and not force:
        raise _conflict_error(conflicts, api_version, sets)
    for key, path in conflicts:
        others[key].discard(path)
    sets[mine] = (applied, mine_meta)
    stamp = format_time(now)
    touched = {mine} | {key for key, _ in conflicts}
    managed = _encode_managed(sets, touched, api_version, stamp)
    for entry in managed:
        key = ManagerKey(entry["manager"], entry["operation"], subresource=entry.get("subresource", ""))
        if key != mine and key in touched:
            entry["time"] = sets[key][1].get("time", stamp)
    return merged, managed


def _conflict_error(conflicts: list[tuple[ManagerKey, FieldPath]], api_version: str, sets: _Sets) -> ApiError:
    grouped: dict[ManagerKey, list[str]] = {}
    for key, path in conflicts:
        grouped.setdefault(key, []).append(render_path(path))
    parts: list[str] = []
    causes: list[Obj] = []
    for key, fields in grouped.items():
        version = sets[key][1].get("apiVersion", api_version)
        sub = f' with subresource "{key.subresource}"' if key.subresource else ""
        who = f'"{key.manager}"{sub} using {version}'
        if len(fields) == 1:
            parts.append(f"conflict with {who}: {fields[0]}")
        else:
            parts.append(f"conflicts with {who}:\n" + "\n".join(f"- {f}" for f in fields))
        causes.extend(
            {"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": f} for f in fields
        )
    count = len(conflicts)
    noun = "conflict" if count == 1 else "conflicts"
    return ApiError(
        409,
        f"Apply failed with {count} {noun}: " + "\n".join(parts),
        reason="Conflict",
        details={"causes": causes},
    )
