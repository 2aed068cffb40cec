"""Field ownership as structured-merge-diff defines it, on objects carrying the controllers' entries.

Every object here comes out of the SSA model with the managedFields a real cluster has: the
deployment controller's revision annotation and status, the PV binder's annotations and
``spec.volumeName``, the HPA's ``spec.replicas`` through ``/scale``. A manager owns a field only
when its fieldsV1 names it (or an atomic ancestor); a deleted field is owned by nobody.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tests.plan.objects import SECRET_VALUE, deployment, hpa, pvc, secret, service, unowned
from tests.property.ssa_model import CONTROLLER, Cluster

from starform_core.kube.labels import ANNOTATION_DESIRED_HASH, LABEL_MANAGED_BY
from starform_core.kube.objects import key_of
from starform_core.plan import Conflict, Plan, Reason, RemoveFields, Update, plan
from starform_core.plan.changes import LAST_APPLIED

CONTAINER = ("spec", "template", "spec", "containers", 0)


def _applied(*desired: dict[str, Any]) -> Cluster:
    cluster = Cluster()
    cluster.execute(plan(list(desired), []))
    return cluster


def _probed() -> dict[str, Any]:
    obj = deployment()
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10}
    container["resources"]["limits"] = {"cpu": "2", "memory": "2Gi"}
    container["securityContext"] = {"runAsNonRoot": True, "allowPrivilegeEscalation": False}
    obj["metadata"]["annotations"] = {"team": "shop"}
    return obj


def _drift(result: Plan) -> Update:
    (action,) = result.actions
    assert isinstance(action, Update), result.actions
    assert action.reason is Reason.DRIFTED
    return action


@pytest.mark.parametrize(
    "path",
    [
        ("metadata", "labels", "starform.io/service-id"),
        ("metadata", "annotations", "team"),
        (*CONTAINER, "livenessProbe"),
        (*CONTAINER, "resources", "limits"),
        (*CONTAINER, "envFrom"),
        (*CONTAINER, "securityContext", "runAsNonRoot"),
        ("spec", "template", "spec", "containers", 0, "env", 1),
    ],
)
def test_a_deleted_field_under_the_controllers_entries_is_drift_with_no_manager(
    path: tuple[str | int, ...],
) -> None:
    desired = _probed()
    cluster = _applied(desired)
    key = key_of(desired)
    entries = {m["manager"] for m in cluster.get(key)["metadata"]["managedFields"]}
    assert CONTROLLER in entries  # revision annotation and status: a controller passes through
    cluster.remove_field(key, "kubectl-edit", path)
    update = _drift(plan([desired], cluster.live()))
    assert update.changes
    assert all(change.manager is None for change in update.changes), update.changes
    pointer = "/" + "/".join(str(p).replace("/", "~1") for p in path)
    assert any(change.path.startswith(pointer) for change in update.changes), update.changes
    cluster.execute(plan([desired], cluster.live()))
    assert plan([desired], cluster.live()).is_empty


def test_a_probe_deleted_after_a_rollout_restart_is_not_blamed_on_kubectl_rollout() -> None:
    desired = _probed()
    cluster = _applied(desired)
    key = key_of(desired)
    restarted = ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")
    cluster.edit(key, "kubectl-rollout", restarted, "2026-01-01T00:00:00Z")
    cluster.remove_field(key, "kubectl-edit", (*CONTAINER, "livenessProbe"))
    (change,) = _drift(plan([desired], cluster.live())).changes
    assert change.path == "/spec/template/spec/containers/0/livenessProbe"
    assert change.manager is None


def test_a_changed_field_names_whoever_changed_it() -> None:
    desired = _probed()
    cluster = _applied(desired)
    key = key_of(desired)
    cluster.edit(key, "kubectl-edit", (*CONTAINER, "livenessProbe", "periodSeconds"), 99)
    (change,) = _drift(plan([desired], cluster.live())).changes
    assert (change.path, change.live, change.desired) == (
        "/spec/template/spec/containers/0/livenessProbe/periodSeconds",
        "99",
        "10",
    )
    assert change.manager == "kubectl-edit"
    assert change.time == cluster.time_of(key, "kubectl-edit")


def test_a_replaced_atomic_map_is_attributed_to_whoever_replaced_it() -> None:
    desired = service()
    cluster = _applied(desired)
    key = key_of(desired)
    cluster.edit(key, "kubectl-edit", ("spec", "selector"), {"app": "other"})
    update = _drift(plan([desired], cluster.live()))
    assert {c.manager for c in update.changes} == {"kubectl-edit"}
    assert "/spec/selector/starform.io~1service-id" in {c.path for c in update.changes}


def test_the_prune_protection_annotation_of_a_bound_claim_is_drift() -> None:
    desired = pvc()
    cluster = _applied(desired)
    key = key_of(desired)
    live = cluster.get(key)
    assert live["spec"]["volumeName"]
    assert live["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert plan([desired], cluster.live()).is_empty  # the binder's fields are not drift
    cluster.remove_field(key, "kubectl-edit", ("metadata", "annotations", "starform.io/prune-protection"))
    (change,) = _drift(plan([desired], cluster.live())).changes
    assert change.path == "/metadata/annotations/starform.io~1prune-protection"
    assert change.manager is None


def test_the_autoscaler_and_kubectl_scale_on_an_autoscaled_deployment_are_not_drift() -> None:
    desired = [deployment(), hpa()]
    cluster = _applied(*desired)
    cluster.autoscale(key_of(hpa()), 4)
    live = cluster.get(key_of(deployment()))
    scale = [m for m in live["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert scale[0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert plan(desired, cluster.live()).is_empty
    cluster.scale(key_of(deployment()), 9)
    assert plan(desired, cluster.live()).is_empty


def test_kubectl_scale_without_an_autoscaler_is_drift_by_kubectl() -> None:
    cluster = _applied(deployment())
    cluster.scale(key_of(deployment()), 9)
    (change,) = _drift(plan([deployment()], cluster.live())).changes
    assert (change.path, change.live, change.desired, change.manager) == (
        "/spec/replicas",
        "9",
        "2",
        "kubectl",
    )
    cluster.edit(key_of(deployment()), CONTROLLER, ("spec", "replicas"), 5, subresource="scale")
    assert plan([deployment()], cluster.live()).is_empty  # an autoscaler someone else made owns it


def test_the_controllers_fields_are_never_additions() -> None:
    cluster = _applied(deployment(), pvc())
    cluster.edit(
        key_of(deployment()),
        CONTROLLER,
        ("metadata", "annotations", "deployment.kubernetes.io/revision"),
        "7",
    )
    result = plan([deployment(), pvc()], cluster.live())
    assert result.is_empty, result.actions


def test_a_deleted_hash_or_ownership_label_is_drift_not_a_stranger() -> None:
    cluster = _applied(deployment())
    key = key_of(deployment())
    cluster.remove_field(key, "kubectl-edit", ("metadata", "annotations", ANNOTATION_DESIRED_HASH))
    (change,) = _drift(plan([deployment()], cluster.live())).changes
    assert change.path == "/metadata/annotations/starform.io~1desired-hash"
    cluster.execute(plan([deployment()], cluster.live()))
    cluster.remove_field(key, "kubectl-label", ("metadata", "labels", LABEL_MANAGED_BY))
    (change,) = _drift(plan([deployment()], cluster.live())).changes
    assert change.path == "/metadata/labels/app.kubernetes.io~1managed-by"
    assert plan([], cluster.live()).is_empty  # not labelled: never pruned
    cluster.execute(plan([deployment()], cluster.live()))
    assert plan([deployment()], cluster.live()).is_empty


def test_an_object_printed_by_render_is_still_judged_by_its_fields() -> None:
    live = copy.deepcopy(deployment())
    assert plan([deployment()], [live]).is_empty


def test_removals_inside_a_list_item_pin_every_index_they_go_through() -> None:
    desired = deployment()
    sidecar = {"name": "proxy", "image": "envoy:1", "env": [{"name": "A", "value": "1"}]}
    desired["spec"]["template"]["spec"]["containers"].append(sidecar)
    cluster = _applied(desired)
    key = key_of(desired)
    cluster.edit(
        key,
        "kubectl-edit",
        ("spec", "template", "spec", "containers", 1, "env", 1),
        {"name": "B", "value": "2"},
    )
    cluster.edit(key, "kubectl-edit", ("spec", "template", "spec", "containers", 1, "args"), ["--debug"])
    (action,) = plan([desired], cluster.live()).actions
    assert isinstance(action, RemoveFields)
    assert action.paths == (
        "/spec/template/spec/containers/1/env/1",
        "/spec/template/spec/containers/1/args",
    )
    assert action.guards == (
        ("/spec/template/spec/containers/1/name", "proxy"),
        ("/spec/template/spec/containers/1/env/1/name", "B"),
    )
    patch = action.json_patch()
    assert [op["op"] for op in patch] == ["test", "test", "remove", "remove"]
    cluster.execute(plan([desired], cluster.live()))
    assert plan([desired], cluster.live()).is_empty


def test_a_last_applied_annotation_on_a_secret_never_shows_its_values() -> None:
    desired = secret()
    cluster = _applied(desired)
    key = key_of(desired)
    copied = json.dumps(cluster.get(key) | {"metadata": {"name": "vars"}})
    cluster.edit(key, "kubectl-client-side-apply", ("metadata", "annotations", LAST_APPLIED), copied)
    cluster.edit(key, "kubectl-edit", ("metadata", "labels", "starform.io/service-id"), SECRET_VALUE)
    result = plan([desired], cluster.live())
    kinds = sorted(type(a).__name__ for a in result.actions)
    assert kinds == ["RemoveFields", "Update"]
    for action in result.actions:
        for change in getattr(action, "changes", ()):
            assert change.redacted
            assert (change.live, change.desired) == (None, None)
    text = repr(result) + "".join(str(c) for a in result.actions for c in getattr(a, "changes", ()))
    assert SECRET_VALUE not in text
    assert desired["data"]["TOKEN"] not in text


def test_a_stranger_secret_in_the_way_does_not_show_its_labels() -> None:
    stranger = unowned(secret(), manager="s3cr3t-in-a-label")
    (action,) = plan([secret()], [stranger]).actions
    assert action == Conflict(key_of(secret()), Reason.FOREIGN_OBJECT, None)


def _hardened() -> dict[str, Any]:
    obj = deployment()
    pod = obj["spec"]["template"]["spec"]
    pod["automountServiceAccountToken"] = False
    pod["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False}
    pod["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/", "port": 8080},
        "initialDelaySeconds": 0,
    }
    return obj


@pytest.mark.parametrize(
    "path",
    [
        ("spec", "template", "spec", "automountServiceAccountToken"),
        (*CONTAINER, "securityContext", "allowPrivilegeEscalation"),
        (*CONTAINER, "securityContext"),
    ],
)
def test_a_deleted_false_or_zero_is_drift(path: tuple[str | int, ...]) -> None:
    desired = _hardened()
    cluster = _applied(desired)
    cluster.remove_field(key_of(desired), "kubectl-edit", path)
    update = _drift(plan([desired], cluster.live()))
    assert any(c.desired == "false" and c.live is None for c in update.changes), update.changes
    cluster.execute(plan([desired], cluster.live()))
    assert plan([desired], cluster.live()).is_empty


def test_an_empty_value_the_server_dropped_is_not_drift() -> None:
    desired = _hardened()
    cluster = _applied(desired)
    probe = cluster.values[key_of(desired)]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    del probe["initialDelaySeconds"]  # omitempty: a real server never stores the 0 (Shuttle's apply owns it)
    assert plan([desired], cluster.live()).is_empty
    cluster.with_managed_fields = False
    assert plan([desired], cluster.live()).is_empty
