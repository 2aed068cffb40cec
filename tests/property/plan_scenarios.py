"""Shared scenario builders for the planner's properties: a cluster in some state, disturbed."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from hypothesis import strategies as st
from tests.property.ssa_model import Cluster
from tests.strategies.kube_objects import SECRET_MARKER, desired_objects, unowned_object

from starform_core.kube.labels import MANAGED_BY_VALUE
from starform_core.kube.objects import KubeObject, key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.plan import PlanOptions, is_owned, plan

RELEASED = PlanOptions(prune_policy=PrunePolicy(release_held=True))
"""Options with the prune valve released (convergence is about reaching the desired state)."""

_EDITS = (
    "add-env",
    "image",
    "env-value",
    "annotation",
    "label",
    "replicas-edit",
    "replicas-controller",
    "secret-key",
    "delete",
)


def applied(desired: Iterable[KubeObject], *, managed_fields: bool = True) -> Cluster:
    """A cluster on which Shuttle applied ``desired`` (one plan, executed)."""
    cluster = Cluster()
    cluster.with_managed_fields = managed_fields
    cluster.execute(plan(desired, [], options=RELEASED))
    return cluster


def disturb(data: st.DataObject, cluster: Cluster) -> list[str]:
    """Out-of-band changes by other managers (kubectl edit, controllers, deletions)."""
    done = []
    for _ in range(data.draw(st.integers(0, 6), label="edits")):
        keys = sorted(cluster.values)
        if not keys:
            break
        key = data.draw(st.sampled_from(keys), label="target")
        edit = data.draw(st.sampled_from(_EDITS), label="edit")
        value = cluster.values[key]
        containers_path: tuple[str | int, ...] = ("spec", "template", "spec", "containers")
        if edit == "delete":
            cluster.delete(key)
        elif edit == "annotation":
            cluster.edit(key, "kubectl-edit", ("metadata", "annotations", "team"), "payments")
        elif edit == "label" and value["metadata"].get("labels"):
            cluster.edit(key, "kubectl-label", ("metadata", "labels", "extra"), "yes")
        elif edit == "secret-key" and key.kind == "Secret" and "data" in value:
            leaked = base64.b64encode(f"{SECRET_MARKER}added".encode()).decode()
            cluster.edit(key, "kubectl-edit", ("data", "EXTRA"), leaked)
        elif key.kind == "Deployment":
            env = value["spec"]["template"]["spec"]["containers"][0].get("env")
            if edit in ("add-env", "env-value") and not env:
                continue
            if edit == "add-env" and all(e["name"] != "EXTRA" for e in env):
                cluster.edit(
                    key,
                    "kubectl-edit",
                    (*containers_path, 0, "env", len(env)),
                    {"name": "EXTRA", "value": "x"},
                )
            elif edit == "image":
                cluster.edit(key, "kubectl-edit", (*containers_path, 0, "image"), "evil:latest")
            elif edit == "env-value":
                cluster.edit(key, "kubectl-edit", (*containers_path, 0, "env", 0, "value"), "tampered")
            elif edit == "replicas-edit":
                cluster.edit(key, "kubectl-scale", ("spec", "replicas"), 9)
            elif edit == "replicas-controller":
                cluster.edit(key, "kube-controller-manager", ("spec", "replicas"), 7)
            else:
                continue
        else:
            continue
        done.append(f"{edit} {key}")
    return done


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], Cluster]:
    """(desired objects, a cluster that ran an older desire and was then disturbed)."""
    previous: list[dict[str, Any]] = draw(desired_objects(), label="previous")
    same = draw(st.booleans(), label="same desire")
    current = previous if same else draw(desired_objects(), label="current")
    cluster = applied(previous, managed_fields=draw(st.booleans(), label="managedFields"))
    disturb(draw(st.data()), cluster)
    in_the_way: bool = draw(st.booleans(), label="foreign in the way")
    if current and in_the_way:
        obj = draw(st.sampled_from([o for o in current if key_of(o).namespace]), label="squatted")
        key = key_of(obj)
        if key not in cluster.values:
            cluster.apply(
                unowned_object(key.kind, key.name, key.namespace) | {"apiVersion": obj["apiVersion"]}, "helm"
            )
    if draw(st.booleans(), label="foreign bystander"):
        cluster.apply(unowned_object("ConfigMap", "bystander", "alpha"), "helm")
    if draw(st.booleans(), label="controller child"):
        pod = unowned_object("Pod", "child-abc12", "alpha", manager_label=MANAGED_BY_VALUE)
        pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "child", "controller": True}]
        cluster.apply(pod, "kube-controller-manager")
    return current, cluster


def owned_keys(live: Iterable[KubeObject]) -> set[Any]:
    """Keys of live objects Shuttle owns."""
    return {key_of(obj) for obj in live if is_owned(obj)}
