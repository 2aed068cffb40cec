"""A server-side-apply model of the API server, the planner's oracle in the property tests.

It keeps ``managedFields`` the way kube-apiserver does (structured-merge-diff, see
``tests/property/fieldsets.py``): one entry per manager, operation and subresource; an Apply owns
exactly the fields it applied (server defaults are owned by nobody); an Update owns what it added
or changed and takes it from everyone else; a removed field is owned by nobody. And it runs the
controllers whose entries are on every real object:

* the deployment controller (``kube-controller-manager``): the
  ``deployment.kubernetes.io/revision`` annotation and the status, both Updates of ``/status``
  (the controller's ``UpdateStatus``);
* the HPA (``kube-controller-manager``): ``spec.replicas`` of its target through ``/scale``
  (:meth:`Cluster.autoscale`), and the HPA's status;
* the PV binder (``kube-controller-manager``): the ``pv.kubernetes.io/*`` and storage-provisioner
  annotations and ``spec.volumeName`` of a claim, and its status;
* the CronJob controller's status (:meth:`Cluster.run_cron`), a gateway's HTTPRoute status.

Writes: :meth:`Cluster.apply` (SSA with force, as Shuttle does), :meth:`Cluster.edit` and
:meth:`Cluster.remove_field` (Updates by another manager, like ``kubectl edit``),
:meth:`Cluster.remove` (a JSON-patch ``remove``), :meth:`Cluster.scale` (``kubectl scale``),
:meth:`Cluster.delete`.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import attrs
from tests.property.fieldsets import (
    ATOMIC_MAPS,
    FPath,
    apply_set,
    compare,
    encode,
    item_key,
    key_names,
    object_nodes,
    resolve,
)

from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.plan.actions import Create, Delete, Plan, RemoveFields, Update

__all__ = ["CONTROLLER", "GATEWAY", "Cluster", "server_defaults"]

CONTROLLER = "kube-controller-manager"
"""The field manager of every in-tree controller (deployment, HPA, PV binder, CronJob)."""
GATEWAY = "envoy-gateway"
"""The field manager of the gateway controller writing HTTPRoute status."""

Manager = tuple[str, str, str]
"""(manager, operation, subresource): what one managedFields entry is for."""

_EPOCH = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
_REVISION = "deployment.kubernetes.io/revision"
_PROVISIONER = "rancher.io/local-path"


@attrs.define
class _Entry:
    fields: set[FPath]
    time: str


def _merge(live: Any, body: Any, field: str = "") -> Any:
    if isinstance(body, dict) and isinstance(live, dict) and field not in ATOMIC_MAPS:
        merged = dict(live)
        for name, child in body.items():
            merged[name] = _merge(live[name], child, name) if name in live else copy.deepcopy(child)
        return merged
    if isinstance(body, list) and isinstance(live, list):
        names = key_names(field, body)
        if names is not None and (not live or key_names(field, live) == names):
            result = list(live)
            for item in body:
                key = item_key(names, item)
                index = next((i for i, x in enumerate(result) if item_key(names, x) == key), None)
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
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def server_defaults(obj: dict[str, Any]) -> None:
    """Fill in what the API server defaults (under Apply these fields get no manager)."""
    kind = obj.get("kind")
    spec = obj.get("spec")
    if kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        if string_data:
            data = obj.setdefault("data", {})
            for name, text in string_data.items():
                data[name] = base64.b64encode(text.encode()).decode()
    elif kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
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
        spec.setdefault("failedJobsHistoryLimit", 1)
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


def _spec_part(obj: dict[str, Any] | None) -> str:
    rest = {k: v for k, v in (obj or {}).items() if k not in ("metadata", "status", "apiVersion", "kind")}
    return json.dumps(rest, sort_keys=True)


def _set_path(value: dict[str, Any], path: tuple[str | int, ...], new: Any) -> None:
    node: Any = value
    for segment in path[:-1]:
        node = node.setdefault(segment, {}) if isinstance(node, dict) else node[int(segment)]
    last = path[-1]
    if isinstance(node, list) and last == len(node):
        node.append(copy.deepcopy(new))
    else:
        node[last] = copy.deepcopy(new)


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _at(value: Any, tokens: Iterable[Any]) -> Any:
    node = value
    for token in tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


class Cluster:
    """Live objects with field ownership, as an API server with SSA and its controllers keep them."""

    def __init__(self, *, controllers: bool = True) -> None:
        self.values: dict[ObjectKey, dict[str, Any]] = {}
        self.managed: dict[ObjectKey, dict[Manager, _Entry]] = {}
        self.clock = 0
        self.with_managed_fields = True
        self.controllers = controllers
        self._templates: dict[ObjectKey, str] = {}

    # -- bookkeeping ---------------------------------------------------------------------

    def _tick(self) -> str:
        self.clock += 1
        return (_EPOCH + _dt.timedelta(seconds=self.clock)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def time_of(self, key: ObjectKey, manager: str) -> str | None:
        """When ``manager`` last wrote ``key`` (any operation), if it did."""
        times = [e.time for (name, _, _), e in self.managed.get(key, {}).items() if name == manager]
        return max(times, default=None)

    def owners(self, key: ObjectKey, path: FPath) -> set[str]:
        """The managers whose entries own ``path`` on ``key``."""
        return {name for (name, _, _), e in self.managed.get(key, {}).items() if path in e.fields}

    def _store(self, key: ObjectKey, new: dict[str, Any]) -> None:
        old = self.values.get(key)
        if old is not None and _spec_part(old) != _spec_part(new):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self.values[key] = new

    def _own(
        self,
        key: ObjectKey,
        me: Manager,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        applied: set[FPath] | None,
    ) -> None:
        """Field ownership after a write of ``new`` over ``old`` by ``me`` (SMD's update)."""
        subresource = me[2] if me[2] == "status" else ""
        old_nodes = object_nodes(old, subresource=subresource) if old else {}
        added, modified, removed = compare(old_nodes, object_nodes(new, subresource=subresource))
        entries = self.managed.setdefault(key, {})
        for other, entry in entries.items():
            if other != me:
                entry.fields -= added | modified | removed
        if applied is not None:
            fields = applied
        else:
            fields = ((entries[me].fields if me in entries else set()) | added | modified) - removed
        if applied is not None or added | modified | removed or me not in entries:
            entries[me] = _Entry(fields, self._tick())
        for name in [m for m, e in entries.items() if not e.fields]:
            del entries[name]

    # -- writes ----------------------------------------------------------------------------

    def apply(self, body: KubeObject, manager: str = "shuttle") -> None:
        """Server-side apply with force: ``manager`` owns exactly the fields of ``body``."""
        key = key_of(body)
        old = self.values.get(key)
        entries = self.managed.setdefault(key, {})
        me: Manager = (manager, "Apply", "")
        applied = apply_set(body)
        value = copy.deepcopy(old) if old is not None else self._skeleton(body)
        others: set[FPath] = set().union(*(e.fields for m, e in entries.items() if m != me))
        previous = entries[me].fields if me in entries else set()
        released = previous - applied - others
        for path in sorted(p for p in released if not any(p[:n] in released for n in range(1, len(p)))):
            found = resolve(value, path)
            if found is not None:
                parent, where = found
                del parent[where]
        content = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")}
        value = _merge(value, copy.deepcopy(dict(content)))
        server_defaults(value)
        if value == old and applied == previous:
            return  # a no-op apply changes nothing, not even managedFields times
        self._own(key, me, old, value, applied)
        self._store(key, value)
        self._react(key)

    def _skeleton(self, body: KubeObject) -> dict[str, Any]:
        meta = {k: v for k, v in body["metadata"].items() if k in ("name", "namespace")}
        meta["uid"] = "uid-" + hashlib.sha256(repr(key_of(body)).encode()).hexdigest()[:12]
        meta["generation"] = 1
        meta["creationTimestamp"] = self._tick()
        return {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": meta}

    def update(self, key: ObjectKey, manager: str, new: dict[str, Any], *, subresource: str = "") -> None:
        """An Update (PUT or patch) of the whole object by ``manager``."""
        old = self.values[key]
        if subresource == "status":
            # the status strategy keeps the old spec and labels, takes the new status and (as
            # Deployments' and claims' strategies do) the new annotations
            given = new
            new = {
                **copy.deepcopy(old),
                "status": copy.deepcopy(given.get("status") or old.get("status") or {}),
            }
            annotations = (given.get("metadata") or {}).get("annotations")
            if annotations is not None:
                new["metadata"]["annotations"] = copy.deepcopy(annotations)
        else:
            new = copy.deepcopy(new)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        server_defaults(new)
        if new == old:
            return
        self._own(key, (manager, "Update", subresource), old, new, None)
        self._store(key, new)
        if manager != CONTROLLER:
            self._react(key)

    def edit(
        self, key: ObjectKey, manager: str, path: tuple[str | int, ...], new: Any, *, subresource: str = ""
    ) -> None:
        """An Update by ``manager`` setting the field at concrete ``path`` (an index equal to the
        list's length appends)."""
        value = copy.deepcopy(self.values[key])
        _set_path(value, path, new)
        self.update(key, manager, value, subresource=subresource or ("status" if path[0] == "status" else ""))

    def remove_field(self, key: ObjectKey, manager: str, path: tuple[str | int, ...]) -> None:
        """An Update by ``manager`` deleting the field at concrete ``path`` (kubectl edit)."""
        value = copy.deepcopy(self.values[key])
        parent = _at(value, path[:-1])
        del parent[path[-1]]
        self.update(key, manager, value)

    def remove(self, key: ObjectKey, pointer: str, manager: str = "shuttle") -> None:
        """A JSON-patch ``remove`` at ``pointer`` (an Update: the field is owned by nobody after)."""
        value = copy.deepcopy(self.values[key])
        tokens = _tokens(pointer)
        parent = _at(value, tokens[:-1])
        last: Any = int(tokens[-1]) if isinstance(parent, list) else tokens[-1]
        del parent[last]
        self.update(key, manager, value)

    def scale(self, key: ObjectKey, replicas: int, manager: str = "kubectl") -> None:
        """``kubectl scale``: ``spec.replicas`` through the scale subresource."""
        value = copy.deepcopy(self.values[key])
        value["spec"]["replicas"] = replicas
        self.update(key, manager, value, subresource="scale")

    def autoscale(self, hpa: ObjectKey, replicas: int) -> None:
        """The HPA scales its target through ``/scale`` (``kube-controller-manager``), within its
        min and max, as its (live) spec says."""
        spec = self.values[hpa].get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        target = ObjectKey(group, str(ref.get("kind")), hpa.namespace, str(ref.get("name")))
        replicas = max(int(spec.get("minReplicas", 1)), min(int(spec.get("maxReplicas", replicas)), replicas))
        if target not in self.values:
            self._hpa_status(hpa)  # nothing to scale
            return
        value = copy.deepcopy(self.values[target])
        value["spec"]["replicas"] = replicas
        self.update(target, CONTROLLER, value, subresource="scale")
        self._deployment_status(target)
        self._hpa_status(hpa)

    def run_cron(self, key: ObjectKey, *, succeeded: bool = True) -> None:
        """The CronJob controller records a run (its success only when ``succeeded``)."""
        status = dict(self.values[key].get("status") or {})
        status["lastScheduleTime"] = self._tick()
        if succeeded:
            status["lastSuccessfulTime"] = self._tick()
        self.update(key, CONTROLLER, {"status": status}, subresource="status")

    def delete(self, key: ObjectKey) -> None:
        """Delete an object (immediately: no finalizers in this model)."""
        del self.values[key]
        self.managed.pop(key, None)
        self._templates.pop(key, None)

    # -- controllers ---------------------------------------------------------------------

    def _react(self, key: ObjectKey) -> None:
        if not self.controllers or not isinstance((self.values.get(key) or {}).get("spec"), dict):
            return
        if key.kind == "Deployment":
            self._deployment_revision(key)
            self._deployment_status(key)
        elif key.kind == "PersistentVolumeClaim":
            self._bind_claim(key)
        elif key.kind == "HorizontalPodAutoscaler":
            self._hpa_status(key)
        elif key.kind == "HTTPRoute":
            self._route_status(key)

    def _deployment_revision(self, key: ObjectKey) -> None:
        value = self.values[key]
        digest = json.dumps(value["spec"].get("template"), sort_keys=True)
        if self._templates.get(key) == digest:
            return
        self._templates[key] = digest
        annotations = value["metadata"].get("annotations") or {}
        revision = int(annotations.get(_REVISION, "0")) + 1
        new = copy.deepcopy(value)
        new["metadata"].setdefault("annotations", {})[_REVISION] = str(revision)
        self.update(key, CONTROLLER, new, subresource="status")  # UpdateStatus, as the real one

    def _deployment_status(self, key: ObjectKey) -> None:
        value = self.values[key]
        replicas = int(value["spec"].get("replicas", 1))
        status: dict[str, Any] = {"observedGeneration": value["metadata"]["generation"]}
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
            if replicas:
                status[field] = replicas
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ]
        self.update(key, CONTROLLER, {"status": status}, subresource="status")

    def _bind_claim(self, key: ObjectKey) -> None:
        value = self.values[key]
        if not value["spec"].get("volumeName"):
            new = copy.deepcopy(value)
            new["spec"]["volumeName"] = "pvc-" + value["metadata"]["uid"]
            new["metadata"].setdefault("annotations", {}).update(
                {
                    "pv.kubernetes.io/bind-completed": "yes",
                    "pv.kubernetes.io/bound-by-controller": "yes",
                    "volume.beta.kubernetes.io/storage-provisioner": _PROVISIONER,
                    "volume.kubernetes.io/storage-provisioner": _PROVISIONER,
                }
            )
            self.update(key, CONTROLLER, new)
        spec = self.values[key]["spec"]
        status = {
            "phase": "Bound",
            "accessModes": list(spec.get("accessModes") or ()),
            "capacity": dict((spec.get("resources") or {}).get("requests") or {}),
        }
        self.update(key, CONTROLLER, {"status": status}, subresource="status")

    def _hpa_status(self, key: ObjectKey) -> None:
        spec = self.values[key]["spec"]
        ref = spec.get("scaleTargetRef") or {}
        target = self.values.get(ObjectKey("apps", "Deployment", key.namespace, str(ref.get("name"))))
        current = int((target or {}).get("spec", {}).get("replicas", 1))
        status = {
            "currentReplicas": current,
            "desiredReplicas": current,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"},
            ],
        }
        self.update(key, CONTROLLER, {"status": status}, subresource="status")

    def _route_status(self, key: ObjectKey) -> None:
        value = self.values[key]
        refs = value["spec"].get("parentRefs") or [{"name": "gateway"}]
        conditions = [{"type": "Accepted", "status": "True"}, {"type": "ResolvedRefs", "status": "True"}]
        parents = [
            {"parentRef": ref, "controllerName": "gateway.envoyproxy.io", "conditions": conditions}
            for ref in refs
        ]
        self.update(key, GATEWAY, {"status": {"parents": parents}}, subresource="status")

    # -- Shuttle and reads -----------------------------------------------------------------

    def execute(self, plan: Plan, manager: str = "shuttle") -> None:
        """Carry out every executable action of ``plan`` as Shuttle would."""
        for action in plan.actions:
            if isinstance(action, Create | Update):
                self.apply(action.body, manager)
            elif isinstance(action, RemoveFields):
                for pointer, expected in action.guards:
                    assert _at(self.values[action.key], _tokens(pointer)) == expected, (pointer, expected)
                for pointer in action.paths:
                    self.remove(action.key, pointer, manager)
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
            entries = []
            for (manager, operation, subresource), entry in self.managed.get(key, {}).items():
                raw: dict[str, Any] = {
                    "manager": manager,
                    "operation": operation,
                    "apiVersion": obj["apiVersion"],
                    "time": entry.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": encode(entry.fields),
                }
                if subresource:
                    raw["subresource"] = subresource
                entries.append(raw)
            meta["managedFields"] = sorted(entries, key=lambda e: (e["operation"], e["time"], e["manager"]))
        return obj
