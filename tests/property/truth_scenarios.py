"""Out-of-band changes to a cluster Shuttle applied, recorded with what the plan must then say.

A scenario applies desired objects to the SSA model (whose controllers write their own entries:
revision annotation, status, PV binding, autoscaling), then disturbs it:

* at most one *change* per object (so each expectation stands on its own): a field Shuttle
  sets is deleted or modified, by another manager (an Update, ``kubectl scale`` for replicas) or
  by no manager (the value changes and managedFields do not);
* *additions* by other managers: an annotation, a label, an env var, a container field, a key of
  a Secret, a ``last-applied-configuration`` annotation;
* the controllers act: the HPA scales its target, a controller takes ``spec.replicas`` of a
  Deployment no autoscaler of Shuttle's targets, CronJobs run.

Live objects are shown with or without managedFields (``kubectl get`` omits them by default).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import attrs
from hypothesis import strategies as st
from tests.property.fieldsets import MERGE_KEYS
from tests.property.ssa_model import CONTROLLER, Cluster, server_defaults
from tests.strategies.kube_objects import SECRET_MARKER, desired_objects

from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.model.enums import DriftMode
from starform_core.model.workload import DriftPolicy
from starform_core.plan import Create, PlanOptions, plan
from starform_core.plan.fields import to_pointer

__all__ = ["Addition", "Change", "Scenario", "leaf_value", "scenarios"]

HUMANS = ("kubectl-edit", "kubectl-patch", "helm", "k9s")
_IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))
_KEY_FIELDS = {name for names in MERGE_KEYS.values() for name in names} | {
    "containerPort",
    "port",
    "protocol",
}
_QUANTITY_PARENTS = {"requests", "limits", "hard", "capacity"}

Path_ = tuple[str | int, ...]
ABSENT = object()
"""A field the live object does not have."""


@attrs.frozen
class Change:
    """One field Shuttle sets, deleted or modified out of band (``manager`` ``None``: no manager)."""

    key: ObjectKey
    path: Path_
    verb: str
    manager: str | None

    @property
    def pointer(self) -> str:
        """The field as a JSON pointer."""
        return to_pointer(self.path)


@attrs.frozen
class Addition:
    """A field another manager added (``pointer`` into the live object when it was added)."""

    key: ObjectKey
    pointer: str
    manager: str


@attrs.frozen
class Scenario:
    """Desired objects, the apply bodies, the disturbed cluster and what was done to it."""

    desired: list[dict[str, Any]]
    bodies: dict[ObjectKey, dict[str, Any]]
    options: PlanOptions
    cluster: Cluster
    changes: tuple[Change, ...]
    additions: tuple[Addition, ...]
    managed: bool

    def enforced(self, key: ObjectKey) -> bool:
        """True when the object's drift is reverted (not only reported)."""
        service_id = (self.bodies[key]["metadata"].get("labels") or {}).get(LABEL_SERVICE_ID)
        policy = self.options.drift_policies.get(service_id) if service_id else None
        return policy is None or policy.mode is DriftMode.ENFORCE


def leaf_value(obj: Any, path: Path_) -> Any:
    """The value at ``path`` in ``obj``, or :data:`ABSENT`."""
    for segment in path:
        found = (isinstance(obj, dict) and segment in obj) or (
            isinstance(obj, list) and isinstance(segment, int) and segment < len(obj)
        )
        if not found:
            return ABSENT
        obj = obj[segment]
    return obj


def _leaves(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict) and value:
        for name, child in value.items():
            yield from _leaves(child, (*path, name))
    elif isinstance(value, list) and value:
        for index, child in enumerate(value):
            yield from _leaves(child, (*path, index))
    else:
        yield path


def _disturbable(body: KubeObject) -> list[Path_]:
    """Fields Shuttle sets that a change can hit: not identity, not merge keys, not stringData
    (the server stores it as data), not the ownership label (relabelled objects are strangers)."""
    out = []
    for path in _leaves(body):
        if path in _IDENTITY or path[0] == "stringData":
            continue
        if path == ("metadata", "labels", LABEL_MANAGED_BY):
            continue
        if (
            isinstance(path[-1], str)
            and path[-1] in _KEY_FIELDS
            and len(path) > 2
            and isinstance(path[-2], int)
        ):
            continue
        out.append(path)
    return out


def _modified(path: Path_, value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if any(p in _QUANTITY_PARENTS for p in path if isinstance(p, str)) or path[-1] == "storage":
        return "7777Mi"
    if isinstance(value, str):
        return value + "-tampered"
    return "tampered"


def _set(value: Any, path: Path_, new: Any) -> None:
    node = value
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = new


def _unset(value: Any, path: Path_) -> None:
    node = value
    for segment in path[:-1]:
        node = node[segment]
    del node[path[-1]]


def _change(draw: st.DrawFn, cluster: Cluster, key: ObjectKey, body: KubeObject) -> Change | None:
    fields = _disturbable(body)
    if not fields:
        return None
    path = draw(st.sampled_from(fields), label=f"field of {key}")
    verb = draw(st.sampled_from(["delete", "modify"]), label="verb")
    manager = draw(st.sampled_from([*HUMANS, None]), label="manager")
    live = cluster.values[key]
    if leaf_value(live, path) is ABSENT:
        return None
    new = _modified(path, leaf_value(live, path))
    if manager is None:  # no manager: the value changes, managedFields do not
        if verb == "delete":
            _unset(live, path)
        else:
            _set(live, path, new)
        server_defaults(live)  # every write is defaulted: a server never stores an undefaulted object
    elif verb == "delete":
        cluster.remove_field(key, manager, path)
    elif path == ("spec", "replicas") and draw(st.booleans(), label="kubectl scale"):
        cluster.scale(key, int(new), manager)
    else:
        cluster.edit(key, manager, path, new)
    return Change(key, path, verb, manager)


_CONTAINER = ("spec", "template", "spec", "containers", 0)


def _addition(draw: st.DrawFn, cluster: Cluster, key: ObjectKey) -> Addition | None:
    manager = draw(st.sampled_from(HUMANS), label="adder")
    what = draw(st.sampled_from(["annotation", "label", "env", "field", "secret-key", "last-applied"]))
    live = cluster.values[key]
    if what == "annotation":
        path: Path_ = ("metadata", "annotations", "example.com/team")
        value: Any = "payments"
    elif what == "label":
        path, value = ("metadata", "labels", "example.com/extra"), "yes"
    elif what in ("env", "field") and key.kind == "Deployment":
        container = live["spec"]["template"]["spec"]["containers"][0]
        if what == "env":
            path, value = (
                (*_CONTAINER, "env", len(container.get("env") or [])),
                {"name": "EXTRA", "value": "x"},
            )
        else:
            path, value = (*_CONTAINER, "workingDir"), "/tmp"
    elif what == "secret-key" and key.kind == "Secret":
        path, value = ("data", "EXTRA"), base64.b64encode(f"{SECRET_MARKER}added".encode()).decode()
    elif what == "last-applied" and key.kind == "Secret":
        copied = {k: v for k, v in live.items() if k in ("apiVersion", "kind", "data", "type")}
        path = ("metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration")
        value, manager = json.dumps(copied), "kubectl-client-side-apply"
    else:
        return None
    if leaf_value(live, path) is not ABSENT:
        return None
    if path[-2] == "env" and not (live["spec"]["template"]["spec"]["containers"][0].get("env")):
        return None
    cluster.edit(key, manager, path, value)
    return Addition(key, to_pointer(path), manager)


def _controllers(
    draw: st.DrawFn, cluster: Cluster, desired: list[dict[str, Any]], touched: set[ObjectKey], managed: bool
) -> None:
    targets = set()
    for obj in desired:
        key = key_of(obj)
        if obj["kind"] == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            targets.add(ObjectKey("apps", "Deployment", key.namespace, ref["name"]))
            if draw(st.booleans(), label="autoscale"):
                cluster.autoscale(key, draw(st.integers(1, 5), label="to"))
        elif obj["kind"] == "CronJob" and draw(st.booleans(), label="cron runs"):
            cluster.run_cron(key, succeeded=draw(st.booleans(), label="succeeded"))
    for obj in desired:
        key = key_of(obj)
        # without managedFields a controller's write cannot be told from drift (the CLI warns)
        candidate = obj["kind"] == "Deployment" and key not in targets and key not in touched and managed
        if candidate and draw(st.booleans(), label="a controller takes replicas"):
            cluster.edit(key, CONTROLLER, ("spec", "replicas"), 6, subresource="scale")


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A cluster Shuttle applied ``desired`` to, then disturbed (see the module docstring)."""
    desired: list[dict[str, Any]] = draw(desired_objects(max_services=3), label="desired")
    service_ids = sorted(
        {
            o["metadata"]["labels"][LABEL_SERVICE_ID]
            for o in desired
            if LABEL_SERVICE_ID in o["metadata"]["labels"]
        }
    )
    policies = {
        sid: DriftPolicy(
            mode=draw(st.sampled_from([DriftMode.ENFORCE, DriftMode.DETECT]), label=f"mode {sid}")
        )
        for sid in service_ids
    }
    options = PlanOptions(drift_policies=policies, prune_policy=PrunePolicy(release_held=True))
    cluster = Cluster()
    first = plan(desired, [], options=options)
    bodies = {a.key: copy.deepcopy(dict(a.body)) for a in first.actions if isinstance(a, Create)}
    cluster.execute(first)
    changes: list[Change] = []
    additions: list[Addition] = []
    for key in sorted(bodies):
        if draw(st.integers(0, 2), label=f"disturb {key}") == 0:
            continue
        change = _change(draw, cluster, key, bodies[key])
        if change is not None:
            changes.append(change)
        if draw(st.booleans(), label="add"):
            added = _addition(draw, cluster, key)
            if added is not None:
                additions.append(added)
    managed = draw(st.booleans(), label="managedFields shown")
    replicas = {c.key for c in changes if c.path == ("spec", "replicas")}
    _controllers(draw, cluster, desired, replicas, managed)
    cluster.with_managed_fields = managed
    return Scenario(desired, bodies, options, cluster, tuple(changes), tuple(additions), managed)
