"""A small server-side-apply model of the API server, for convergence properties.

It is an independent oracle for the planner: its own schema knowledge (merge keys, defaults),
its own field-ownership bookkeeping, and it renders live objects the way the API server does
(server defaults without a manager, status, ``metadata.managedFields`` in FieldsV1).

Supported writes: ``apply`` (SSA with force, as Shuttle does), ``edit`` (an Update by another
manager, like ``kubectl edit``), ``remove`` (a JSON-patch ``remove``) and ``delete``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.plan.actions import Create, Delete, Plan, RemoveFields, Update

FPath = tuple[str, ...]
"""A field in FieldsV1 terms: ``("f:spec", "f:containers", 'k:{"name":"app"}', "f:image")``."""

_KEYS = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
}
_DEFAULT_KEY_VALUES = {"protocol": "TCP"}


def _key_names(field: str, items: list[Any]) -> tuple[str, ...] | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":
        if all("containerPort" in i for i in items):
            return ("containerPort", "protocol")
        if all("port" in i for i in items):
            return ("port", "protocol")
        return None
    return _KEYS.get(field)


def _item_key(names: tuple[str, ...], item: Mapping[str, Any]) -> str:
    keys = {n: item.get(n, _DEFAULT_KEY_VALUES.get(n)) for n in names}
    return "k:" + json.dumps(keys, sort_keys=True, separators=(",", ":"))


def _matches(item: Any, key: str) -> bool:
    want = json.loads(key[2:])
    return isinstance(item, dict) and all(
        item.get(n, _DEFAULT_KEY_VALUES.get(n)) == v for n, v in want.items()
    )


def fields_of(value: Mapping[str, Any], prefix: FPath = ()) -> set[FPath]:
    """The leaf fields a body sets (list items also own themselves via ``.``)."""
    out: set[FPath] = set()
    for name, child in value.items():
        path = (*prefix, f"f:{name}")
        names = _key_names(name, child) if isinstance(child, list) else None
        if isinstance(child, dict) and child:
            out |= fields_of(child, path)
        elif names is not None:
            for item in child:
                item_path = (*path, _item_key(names, item))
                out.add((*item_path, "."))
                out |= fields_of(item, item_path)
        else:
            out.add(path)
    return out


def _body_fields(body: Mapping[str, Any]) -> set[FPath]:
    top = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k in ("labels", "annotations")}
    return fields_of(top) | fields_of({"metadata": meta} if meta else {})


def _to_tree(paths: Iterable[FPath]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for segment in path:
            node = node.setdefault(segment, {})
    return tree


def _resolve(value: Any, path: FPath) -> tuple[Any, Any] | None:
    """(container, key-or-index) of the field ``path`` names in ``value``, or None."""
    parent: Any = None
    where: Any = None
    node = value
    for segment in path:
        if segment == ".":
            return (parent, where)
        if segment.startswith("f:"):
            if not isinstance(node, dict) or segment[2:] not in node:
                return None
            parent, where, node = node, segment[2:], node[segment[2:]]
        else:
            if not isinstance(node, list):
                return None
            index = next((i for i, item in enumerate(node) if _matches(item, segment)), None)
            if index is None:
                return None
            parent, where, node = node, index, node[index]
    return (parent, where)


def _concrete_to_fpath(value: Any, path: tuple[str | int, ...]) -> FPath:
    out: list[str] = []
    node = value
    field = ""
    for segment in path:
        if isinstance(node, list):
            names = _key_names(field, node)
            assert names is not None, f"edit inside a positional list at {path}"
            out.append(_item_key(names, node[int(segment)]))
            node = node[int(segment)]
        else:
            field = str(segment)
            out.append(f"f:{field}")
            node = node[field]
    return tuple(out)


def _merge(live: Any, body: Any, field: str = "") -> Any:
    if isinstance(body, dict) and isinstance(live, dict):
        merged = dict(live)
        for name, child in body.items():
            merged[name] = _merge(live.get(name), child, name) if name in live else copy.deepcopy(child)
        return merged
    if isinstance(body, list) and isinstance(live, list):
        names = _key_names(field, body)
        if names is not None and (not live or _key_names(field, live) == names):
            result = list(live)
            for item in body:
                key = _item_key(names, item)
                index = next((i for i, x in enumerate(result) if _item_key(names, x) == key), None)
                if index is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[index] = _merge(result[index], item)
            return result
    return copy.deepcopy(body)


def _pod_defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in spec.get("containers") or []:
        container.setdefault("imagePullPolicy", "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def server_defaults(obj: dict[str, Any]) -> None:
    """Fill in what the API server defaults (these fields get no manager)."""
    kind = obj.get("kind")
    spec = obj.get("spec")
    if kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for name, text in string_data.items():
                data[name] = base64.b64encode(text.encode()).decode()
    if not isinstance(spec, dict):
        return
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault(
            "strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        )
        _pod_defaults(spec.setdefault("template", {}).setdefault("spec", {}))
    elif kind == "CronJob":
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        template = spec.setdefault("jobTemplate", {}).setdefault("spec", {}).setdefault("template", {})
        _pod_defaults(template.setdefault("spec", {}))
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("clusterIP", "10.96.0.10")
        spec.setdefault("clusterIPs", ["10.96.0.10"])
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("volumeMode", "Filesystem")


class Cluster:
    """Live objects with field ownership, as an API server with SSA keeps them."""

    def __init__(self) -> None:
        self.values: dict[ObjectKey, dict[str, Any]] = {}
        self.owners: dict[ObjectKey, dict[str, set[FPath]]] = {}
        self.operations: dict[ObjectKey, dict[str, str]] = {}
        self.times: dict[ObjectKey, dict[str, str]] = {}
        self.clock = 0
        self.with_managed_fields = True

    def _tick(self) -> str:
        self.clock += 1
        return f"2026-01-01T00:{self.clock // 60 % 60:02d}:{self.clock % 60:02d}Z"

    def apply(self, body: KubeObject, manager: str = "shuttle") -> None:
        """Server-side apply with force: ``manager`` owns exactly the fields of ``body``."""
        key = key_of(body)
        value = self.values.get(key)
        owners = self.owners.setdefault(key, {})
        new_fields = _body_fields(body)
        old_fields = owners.get(manager, set())
        if value is None:
            value = {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": {}}
            value["metadata"].update(
                {k: v for k, v in body["metadata"].items() if k in ("name", "namespace")}
            )
            value["metadata"]["uid"] = f"uid-{len(self.values) + self.clock}"
            value["metadata"]["generation"] = 1
        others = set().union(*(f for m, f in owners.items() if m != manager))
        released = old_fields - new_fields - others
        for path in sorted(released, key=lambda p: (len(p) - (p[-1] == "."), p)):
            found = _resolve(value, path)
            if found is not None:
                parent, where = found
                del parent[where]
        before = json.dumps(value.get("spec"), sort_keys=True)
        content = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        value = _merge(value, copy.deepcopy(dict(content)))
        server_defaults(value)
        if json.dumps(value.get("spec"), sort_keys=True) != before and key in self.values:
            value["metadata"]["generation"] = value["metadata"].get("generation", 1) + 1
        for other, fields in owners.items():
            if other != manager:
                fields -= new_fields
        owners[manager] = new_fields
        self.operations.setdefault(key, {})[manager] = "Apply"
        self.times.setdefault(key, {})[manager] = self._tick()
        self.values[key] = value

    def edit(self, key: ObjectKey, manager: str, path: tuple[str | int, ...], new: Any) -> None:
        """An Update by ``manager`` setting the field at concrete ``path`` (kubectl edit)."""
        value = self.values[key]
        node: Any = value
        for segment in path[:-1]:
            node = node[segment]
        last = path[-1]
        if isinstance(node, list) and last == len(node):
            node.append(copy.deepcopy(new))
        else:
            node[last] = copy.deepcopy(new)
        fpath = _concrete_to_fpath(value, path)
        if isinstance(new, dict) and isinstance(node, list):
            owned = {(*fpath, ".")} | fields_of(new, fpath)
        elif isinstance(new, dict) and new:
            owned = fields_of(new, fpath)
        else:
            owned = {fpath}
        for fields in self.owners[key].values():
            fields -= owned
        self.owners[key].setdefault(manager, set()).update(owned)
        self.operations[key].setdefault(manager, "Update")
        self.times[key][manager] = self._tick()

    def remove(self, key: ObjectKey, pointer: str) -> None:
        """A JSON-patch ``remove`` at ``pointer``; owners lose the field and what is below."""
        value = self.values[key]
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
        path = tuple(
            int(t) if isinstance(self._at(value, tokens[:i]), list) else t for i, t in enumerate(tokens)
        )
        fpath = _concrete_to_fpath(value, path)
        parent = self._at(value, list(path[:-1]))
        del parent[path[-1]]
        for fields in self.owners[key].values():
            for owned in [f for f in fields if f[: len(fpath)] == fpath]:
                fields.discard(owned)

    @staticmethod
    def _at(value: Any, tokens: list[Any]) -> Any:
        node = value
        for token in tokens:
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def delete(self, key: ObjectKey) -> None:
        """Delete an object (immediately: no finalizers in this model)."""
        del self.values[key]
        del self.owners[key]

    def execute(self, plan: Plan, manager: str = "shuttle") -> None:
        """Carry out every executable action of ``plan`` as Shuttle would."""
        for action in plan.actions:
            if isinstance(action, Create | Update):
                self.apply(action.body, manager)
            elif isinstance(action, RemoveFields):
                for pointer, expected in action.guards:
                    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
                    assert self._at(self.values[action.key], tokens) == expected, (pointer, expected)
                for pointer in action.paths:
                    self.remove(action.key, pointer)
            elif isinstance(action, Delete):
                self.delete(action.key)

    def live(self) -> list[dict[str, Any]]:
        """Every object as the API would list it: defaults, status, managedFields."""
        return [self.get(key) for key in sorted(self.values)]

    def get(self, key: ObjectKey) -> dict[str, Any]:
        """One object as the API would serve it."""
        obj = copy.deepcopy(self.values[key])
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.clock)
        if self.with_managed_fields:
            meta["managedFields"] = [
                {
                    "manager": manager,
                    "operation": self.operations[key][manager],
                    "apiVersion": obj["apiVersion"],
                    "time": self.times[key][manager],
                    "fieldsType": "FieldsV1",
                    "fieldsV1": _to_tree(fields),
                }
                for manager, fields in sorted(self.owners[key].items())
                if fields
            ]
        if obj["kind"] == "Deployment" and "spec" in obj:
            replicas = obj["spec"].get("replicas", 1)
            obj["status"] = {
                "observedGeneration": meta["generation"],
                "replicas": replicas,
                "readyReplicas": replicas,
                "updatedReplicas": replicas,
                "availableReplicas": replicas,
            }
        return obj
