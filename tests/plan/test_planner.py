"""The planner's semantics, example by example (properties live in tests/property)."""

from __future__ import annotations

import base64
import copy

import pytest
from tests.plan.objects import (
    SECRET_VALUE,
    SID,
    deployment,
    hpa,
    namespace,
    pvc,
    secret,
    service,
    unowned,
)
from tests.property.ssa_model import Cluster

from starform_core.errors import ValidationError
from starform_core.kube.labels import ANNOTATION_DESIRED_HASH
from starform_core.kube.objects import key_of
from starform_core.model.cluster import PrunePolicy
from starform_core.model.enums import DriftMode
from starform_core.model.workload import DriftPolicy
from starform_core.plan import (
    Conflict,
    Create,
    Delete,
    DriftDetected,
    Held,
    PlanOptions,
    Reason,
    RemoveFields,
    Update,
    desired_hash,
    plan,
)

CONTAINER = ("spec", "template", "spec", "containers", 0)


def _cluster(desired: list[dict[str, object]], options: PlanOptions | None = None) -> Cluster:
    cluster = Cluster()
    cluster.execute(plan(desired, [], options=options))
    return cluster


def test_an_empty_cluster_gets_every_object_created_in_apply_order() -> None:
    desired = [service(), deployment(), secret(), namespace()]
    result = plan(desired, [])
    assert [type(a) for a in result.actions] == [Create] * 4
    assert [a.key.kind for a in result.actions] == ["Namespace", "Secret", "Deployment", "Service"]
    body = result.actions[2].body  # type: ignore[union-attr]
    assert body["metadata"]["annotations"][ANNOTATION_DESIRED_HASH] == desired_hash(body)
    assert desired_hash(body) == desired_hash(deployment())
    assert result.summary()["create"] == 4
    assert not result.is_empty


def test_what_was_applied_plus_server_defaults_needs_nothing() -> None:
    desired = [namespace(), secret(), deployment(), service(target="8080")]
    cluster = _cluster(desired)
    result = plan(desired, cluster.live())
    assert result.is_empty
    assert result.unchanged == 4
    cluster.with_managed_fields = False
    assert plan(desired, cluster.live()).is_empty


def test_a_changed_desire_is_an_update_with_a_diff() -> None:
    cluster = _cluster([deployment()])
    result = plan([deployment(image="app:2")], cluster.live())
    (action,) = result.actions
    assert isinstance(action, Update)
    assert action.reason is Reason.DESIRED_CHANGED
    assert [str(c) for c in action.changes] == ['/spec/template/spec/containers/0/image: "app:1" → "app:2"']


def test_a_removed_desired_field_is_caught_by_the_hash() -> None:
    with_env = deployment()
    cluster = _cluster([with_env])
    fewer = copy.deepcopy(with_env)
    fewer["spec"]["template"]["spec"]["containers"][0]["env"].pop()
    (action,) = plan([fewer], cluster.live()).actions
    assert isinstance(action, Update)
    assert action.reason is Reason.DESIRED_CHANGED
    cluster.execute(plan([fewer], cluster.live()))
    env = cluster.values[key_of(fewer)]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["MODE"]


def test_objects_without_a_hash_are_judged_by_their_fields() -> None:
    live = copy.deepcopy(deployment())
    assert plan([deployment()], [live]).is_empty
    live["spec"]["replicas"] = 5
    (action,) = plan([deployment()], [live]).actions
    assert isinstance(action, Update)
    assert action.reason is Reason.DESIRED_CHANGED


def test_drift_names_the_manager_and_time_and_is_reverted() -> None:
    cluster = _cluster([deployment()])
    key = key_of(deployment())
    cluster.edit(key, "kubectl-edit", (*CONTAINER, "image"), "evil:1")
    (action,) = plan([deployment()], cluster.live()).actions
    assert isinstance(action, Update)
    assert action.reason is Reason.DRIFTED
    (change,) = action.changes
    assert (change.path, change.live, change.desired) == (
        "/spec/template/spec/containers/0/image",
        '"evil:1"',
        '"app:1"',
    )
    assert change.manager == "kubectl-edit"
    assert change.time == cluster.time_of(key, "kubectl-edit")
    cluster.execute(plan([deployment()], cluster.live()))
    assert plan([deployment()], cluster.live()).is_empty


def test_an_added_env_var_is_removed_with_a_json_patch() -> None:
    cluster = _cluster([deployment()])
    key = key_of(deployment())
    cluster.edit(key, "kubectl-edit", (*CONTAINER, "env", 2), {"name": "DEBUG", "value": "1"})
    cluster.edit(key, "kubectl-edit", (*CONTAINER, "env", 3), {"name": "TRACE", "value": "1"})
    (action,) = plan([deployment()], cluster.live()).actions
    assert isinstance(action, RemoveFields)
    assert action.reason is Reason.ADDED_OUT_OF_BAND
    assert action.paths == (
        "/spec/template/spec/containers/0/env/3",
        "/spec/template/spec/containers/0/env/2",
    )
    assert action.json_patch() == [
        {"op": "test", "path": "/spec/template/spec/containers/0/name", "value": "app"},
        {"op": "test", "path": "/spec/template/spec/containers/0/env/3/name", "value": "TRACE"},
        {"op": "test", "path": "/spec/template/spec/containers/0/env/2/name", "value": "DEBUG"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/env/3"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/env/2"},
    ]
    assert {c.manager for c in action.changes} == {"kubectl-edit"}
    cluster.execute(plan([deployment()], cluster.live()))
    assert plan([deployment()], cluster.live()).is_empty


def test_a_new_key_in_shuttles_container_is_an_addition() -> None:
    cluster = _cluster([deployment()])
    cluster.edit(key_of(deployment()), "kubectl-edit", (*CONTAINER, "workingDir"), "/tmp")
    (action,) = plan([deployment()], cluster.live()).actions
    assert isinstance(action, RemoveFields)
    assert action.paths == ("/spec/template/spec/containers/0/workingDir",)


def test_detect_mode_reports_and_does_not_revert() -> None:
    options = PlanOptions(drift_policies={SID: DriftPolicy(mode=DriftMode.DETECT)})
    cluster = _cluster([deployment()], options)
    key = key_of(deployment())
    cluster.edit(key, "kubectl-edit", (*CONTAINER, "image"), "evil:1")
    cluster.edit(key, "kubectl-edit", ("metadata", "annotations", "team"), "x")
    (action,) = plan([deployment()], cluster.live(), options=options).actions
    assert isinstance(action, DriftDetected)
    assert {c.path for c in action.changes} == {
        "/spec/template/spec/containers/0/image",
        "/metadata/annotations/team",
    }
    assert not plan([deployment()], cluster.live(), options=options).executable


def test_ignored_fields_are_neither_applied_nor_drift() -> None:
    policy = DriftPolicy(ignore_fields=("Deployment:/spec/template/spec/containers/*/resources",))
    options = PlanOptions(drift_policies={SID: policy})
    (create,) = plan([deployment()], [], options=options).actions
    assert isinstance(create, Create)
    assert "resources" not in create.body["spec"]["template"]["spec"]["containers"][0]
    cluster = _cluster([deployment()], options)
    cluster.edit(key_of(deployment()), "vpa", (*CONTAINER, "resources"), {"requests": {"cpu": "2"}})
    assert plan([deployment()], cluster.live(), options=options).is_empty


def test_an_autoscaled_deployment_never_fights_the_autoscaler() -> None:
    desired = [deployment(), hpa()]
    result = plan(desired, [])
    body = next(a.body for a in result.actions if isinstance(a, Create) and a.key.kind == "Deployment")
    assert "replicas" not in body["spec"]
    cluster = _cluster(desired)
    cluster.edit(key_of(deployment()), "kube-controller-manager", ("spec", "replicas"), 5)
    assert plan(desired, cluster.live()).is_empty
    cluster.edit(key_of(deployment()), "someone", ("spec", "replicas"), 4)
    assert plan(desired, cluster.live()).is_empty


def test_controller_fields_and_rollout_restarts_are_not_drift() -> None:
    cluster = _cluster([deployment()])
    key = key_of(deployment())
    cluster.edit(key, "kube-controller-manager", ("spec", "replicas"), 7)
    restarted = ("spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")
    cluster.edit(key, "kubectl-rollout", restarted, "2026-01-01T00:00:00Z")
    assert plan([deployment()], cluster.live()).is_empty


def test_a_foreign_object_in_the_way_is_a_conflict_never_taken_over() -> None:
    live = [unowned(deployment())]
    (action,) = plan([deployment()], live).actions
    assert action == Conflict(key_of(deployment()), Reason.FOREIGN_OBJECT, "helm")
    assert plan([], live).is_empty


def test_orphans_are_deleted_in_reverse_order_and_controller_children_are_left_alone() -> None:
    cluster = _cluster([namespace(), secret(), deployment(), service()])
    pod = unowned(deployment(), manager=None) | {"kind": "Pod", "apiVersion": "v1"}
    pod["metadata"] = dict(deployment()["metadata"], name="web-abc", ownerReferences=[{"controller": True}])
    result = plan(
        [], [*cluster.live(), pod], options=PlanOptions(prune_policy=PrunePolicy(release_held=True))
    )
    assert [a.key.kind for a in result.actions] == ["Service", "Deployment", "Secret", "Namespace"]
    assert all(isinstance(a, Delete) and a.reason is Reason.ORPHANED and a.uid for a in result.actions)


def test_a_namespace_holding_foreign_objects_is_not_pruned() -> None:
    cluster = _cluster([namespace()])
    stranger = unowned(service())
    result = plan([], [*cluster.live(), stranger])
    assert result.actions == (Held(key_of(namespace()), Reason.NAMESPACE_NOT_EMPTY),)


def test_a_protected_claim_still_mounted_by_a_desired_workload_is_held() -> None:
    mounted = deployment()
    mounted["spec"]["template"]["spec"]["volumes"] = [
        {"name": "d", "persistentVolumeClaim": {"claimName": "data"}}
    ]
    cluster = _cluster([pvc(), mounted])
    (action,) = plan([mounted], cluster.live()).actions
    assert action == Held(key_of(pvc()), Reason.PVC_IN_USE)
    unmounted = plan([deployment()], cluster.live())
    assert [(type(a), a.key.kind) for a in unmounted.actions] == [
        (Update, "Deployment"),
        (Delete, "PersistentVolumeClaim"),
    ]


def test_the_valve_holds_mass_deletions_until_released() -> None:
    desired = [deployment(f"w{i}") for i in range(10)]
    cluster = _cluster(desired)
    policy = PrunePolicy(max_delete_percent=30, max_delete_count=3)
    held = plan(desired[:2], cluster.live(), options=PlanOptions(prune_policy=policy))
    assert held.prune_held
    assert held.prune.would_delete == 8
    assert held.prune.owned == 10
    assert all(a == Held(a.key, Reason.MASS_DELETION) for a in held.actions)
    few = plan(desired[:8], cluster.live(), options=PlanOptions(prune_policy=policy))
    assert not few.prune_held
    assert sum(isinstance(a, Delete) for a in few.actions) == 2
    released = PrunePolicy(max_delete_percent=30, max_delete_count=3, release_held=True)
    assert len(plan(desired[:2], cluster.live(), options=PlanOptions(prune_policy=released)).executable) == 8
    offline = plan(desired[:8], cluster.live(), options=PlanOptions(allow_prune=False))
    assert [a.reason for a in offline.actions] == [Reason.STARBASE_UNREACHABLE] * 2
    assert offline.prune_held


def test_partials_touch_one_annotation_of_an_unowned_object() -> None:
    target = unowned(service("lb"), manager=None)
    partial = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "shop", "annotations": {"size-unit": "3"}},
    }
    (action,) = plan([], [target], partials=[partial]).actions
    assert isinstance(action, Update)
    assert action.partial
    assert action.reason is Reason.ANNOTATION_CHANGED
    assert action.body == partial
    target["metadata"]["annotations"] = {"size-unit": "3", "other": "x"}
    assert plan([], [target], partials=[partial]).is_empty
    (missing,) = plan([], [], partials=[partial]).actions
    assert missing == Held(key_of(partial), Reason.TARGET_MISSING)


def test_secret_values_never_appear_in_a_plan() -> None:
    cluster = _cluster([secret()])
    changed = secret(value="s3cr3t-other")
    cluster.edit(key_of(secret()), "kubectl-edit", ("data", "EXTRA"), base64.b64encode(b"s3cr3t-x").decode())
    result = plan([changed], cluster.live())
    text = repr(result) + "".join(str(c) for a in result.actions for c in getattr(a, "changes", ()))
    assert "s3cr3t" not in text
    assert base64.b64encode(b"s3cr3t").decode()[:6] not in text
    update = next(a for a in result.actions if isinstance(a, Update))
    assert [str(c) for c in update.changes] == ["/data/TOKEN: changed"]
    removal = next(a for a in result.actions if isinstance(a, RemoveFields))
    assert [str(c) for c in removal.changes] == [
        f"/data/EXTRA: changed (by kubectl-edit at {removal.changes[0].time})"
    ]


def test_string_data_compares_with_the_encoded_live_data() -> None:
    desired = secret(string_data=True)
    live = secret()
    (create,) = plan([desired], []).actions
    assert isinstance(create, Create)
    live["metadata"]["annotations"] = {
        ANNOTATION_DESIRED_HASH: create.body["metadata"]["annotations"][ANNOTATION_DESIRED_HASH]
    }
    assert plan([desired], [live]).is_empty
    live["data"]["TOKEN"] = base64.b64encode(b"other").decode()
    (action,) = plan([desired], [live]).actions
    assert isinstance(action, Update)
    assert action.reason is Reason.DRIFTED
    assert SECRET_VALUE not in repr(action)


def test_equivalent_spellings_and_empty_values_are_equal() -> None:
    desired = deployment()
    live = copy.deepcopy(desired)
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["requests"] = {"cpu": "1", "memory": "1073741824"}
    container["ports"][0]["protocol"] = "TCP"
    container["env"].reverse()
    del live["spec"]["template"]["spec"]["volumes"]
    del live["spec"]["template"]["metadata"]["annotations"]
    assert plan([desired], [live]).is_empty
    assert plan([service(target=8080)], [service(target="8080")]).is_empty


def test_duplicate_identities_are_refused() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        plan([deployment(), deployment()], [])
