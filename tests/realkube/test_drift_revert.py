"""Out-of-band changes on the real server, made by other field managers: the planner reports each
one, Shuttle's executor reverts it, and what others own (controllers, the autoscaler) stays."""

from __future__ import annotations

import copy

import attrs
import pytest
from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient
from tests.realkube.conftest import ViewFactory
from tests.realkube.controllers import CONTROLLER, REVISION, act_as_controllers, autoscale
from tests.realkube.shuttle_view import ShuttleView

from starform_core.kube.objects import key_of
from starform_core.payload import example_payload
from starform_core.plan import DriftDetected, Reason, RemoveFields, Update

ENFORCED = "orders-api-production"  # enforce, two replicas, probes
AUTOSCALED = "storefront-production"  # enforce, an HPA owns its replicas
DETECT_ONLY = "mailer-production"  # drift is reported, never reverted
_CONTAINER = "/spec/template/spec/containers/0"


@pytest.fixture
def cluster_view(view_of: ViewFactory, raw: RawClient) -> ShuttleView:
    """The example payload applied, the controllers' writes made, the autoscaler at 4: converged."""
    view = view_of(example_payload())
    view.converge()
    act_as_controllers(raw, view.observe())
    autoscale(Actor(raw, CONTROLLER), view.live("HorizontalPodAutoscaler", AUTOSCALED), 4)
    baseline = view.plan()
    assert baseline.is_empty, baseline.actions
    return view


def _revert(view: ShuttleView) -> None:
    drifted = view.plan()
    assert drifted.executable, "the change was not reported"
    view.execute(drifted)
    settled = view.plan()
    assert settled.is_empty, settled.actions


def _others_untouched(view: ShuttleView) -> None:
    enforced = view.live("Deployment", ENFORCED)
    assert enforced["metadata"]["annotations"][REVISION] == "1", "the controller's annotation stays"
    assert enforced["status"]["availableReplicas"] == 2, "the controller's status stays"
    assert view.live("Deployment", AUTOSCALED)["spec"]["replicas"] == 4, "the autoscaler's replicas stay"


def test_a_kubectl_edit_is_reported_with_its_manager_and_reverted(
    cluster_view: ShuttleView, raw: RawClient
) -> None:
    live = cluster_view.live("Deployment", ENFORCED)
    containers = copy.deepcopy(live["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "registry.example/evil:1"
    containers[0]["env"] = [{"name": "DEBUG", "value": "1"}]
    Actor(raw, "kubectl-edit").edit(
        {
            **live,
            "metadata": {**live["metadata"], "annotations": {"team": "payments"}},
            "spec": {"template": {"spec": {"containers": containers}}},
        }
    )
    drifted = cluster_view.plan()
    kinds = {(type(a), a.reason) for a in drifted.actions}
    assert kinds == {(Update, Reason.DRIFTED), (RemoveFields, Reason.ADDED_OUT_OF_BAND)}, drifted.actions
    update = next(a for a in drifted.actions if isinstance(a, Update))
    assert {c.manager for c in update.changes} == {"kubectl-edit"}
    removal = next(a for a in drifted.actions if isinstance(a, RemoveFields))
    assert "/metadata/annotations/team" in removal.paths
    _revert(cluster_view)
    restored = cluster_view.live("Deployment", ENFORCED)
    container = restored["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == live["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "env" not in container and "team" not in restored["metadata"]["annotations"]
    _others_untouched(cluster_view)


def test_a_second_applier_taking_a_field_is_reverted_and_its_additions_removed(
    cluster_view: ShuttleView, raw: RawClient
) -> None:
    live = cluster_view.live("Deployment", ENFORCED)
    ident = {"name": live["metadata"]["name"], "namespace": live["metadata"]["namespace"]}
    Actor(raw, "ci-pipeline").apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**ident, "labels": {"pipeline": "nightly"}},
            "spec": {
                "template": {"spec": {"containers": [{"name": "app", "image": "registry.example/canary:2"}]}}
            },
        },
        force=True,
    )
    drifted = cluster_view.plan()
    update = next(a for a in drifted.actions if isinstance(a, Update))
    assert {c.manager for c in update.changes} == {"ci-pipeline"}
    removal = next(a for a in drifted.actions if isinstance(a, RemoveFields))
    assert removal.paths == ("/metadata/labels/pipeline",)
    _revert(cluster_view)
    restored = cluster_view.live("Deployment", ENFORCED)
    assert (
        restored["spec"]["template"]["spec"]["containers"][0]["image"]
        == (live["spec"]["template"]["spec"]["containers"][0]["image"])
    )
    assert "pipeline" not in restored["metadata"]["labels"]
    _others_untouched(cluster_view)


def test_kubectl_scale_is_reverted_on_a_fixed_size_deployment(
    cluster_view: ShuttleView, raw: RawClient
) -> None:
    live = cluster_view.live("Deployment", ENFORCED)
    Actor(raw, "kubectl-scale").scale(key_of(live), 7)
    drifted = cluster_view.plan()
    update = next(a for a in drifted.actions if isinstance(a, Update))
    assert [(c.path, c.manager) for c in update.changes] == [("/spec/replicas", "kubectl-scale")]
    _revert(cluster_view)
    assert cluster_view.live("Deployment", ENFORCED)["spec"]["replicas"] == 2
    _others_untouched(cluster_view)


def test_the_autoscaler_scaling_is_left_alone(cluster_view: ShuttleView, raw: RawClient) -> None:
    autoscale(Actor(raw, CONTROLLER), cluster_view.live("HorizontalPodAutoscaler", AUTOSCALED), 9)
    assert cluster_view.plan().is_empty
    assert cluster_view.live("Deployment", AUTOSCALED)["spec"]["replicas"] == 9


def test_drift_under_a_detect_policy_is_reported_not_reverted(
    cluster_view: ShuttleView, raw: RawClient
) -> None:
    live = cluster_view.live("Deployment", DETECT_ONLY)
    containers = copy.deepcopy(live["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "registry.example/mailer:hotfix"
    Actor(raw, "kubectl-edit").edit({**live, "spec": {"template": {"spec": {"containers": containers}}}})
    drifted = cluster_view.plan()
    assert not drifted.executable
    (report,) = drifted.actions
    assert isinstance(report, DriftDetected) and report.key == key_of(live)


@attrs.frozen
class FieldDelete:
    """One field Shuttle sets, deleted by ``kubectl patch --type=json``."""

    kind: str
    name: str
    pointer: str

    def __str__(self) -> str:
        return f"{self.kind}-{self.pointer}"


_DELETES = [
    # the first three sit under a controller's managedFields entry that only passes through
    # metadata (deployment controller, PV binder); securityContext holds a desired false
    FieldDelete("Deployment", ENFORCED, "/metadata/labels/starform.io~1tier"),
    FieldDelete("Deployment", ENFORCED, "/metadata/annotations/starform.io~1source"),
    FieldDelete(
        "PersistentVolumeClaim",
        "search-production-index",
        "/metadata/annotations/starform.io~1prune-protection",
    ),
    FieldDelete("Deployment", ENFORCED, f"{_CONTAINER}/securityContext"),
    FieldDelete("Deployment", ENFORCED, f"{_CONTAINER}/readinessProbe"),
    FieldDelete("Deployment", ENFORCED, f"{_CONTAINER}/envFrom"),
    FieldDelete("Deployment", ENFORCED, f"{_CONTAINER}/args"),
    FieldDelete("Deployment", ENFORCED, f"{_CONTAINER}/resources/requests/memory"),
    FieldDelete("Deployment", ENFORCED, "/spec/template/metadata/annotations/starform.io~1image"),
    FieldDelete("Service", ENFORCED, "/metadata/labels/starform.io~1tier"),
    FieldDelete("Service", ENFORCED, "/metadata/annotations/starform.io~1source"),
    FieldDelete("HorizontalPodAutoscaler", AUTOSCALED, "/spec/behavior"),
    FieldDelete(
        "CronJob", "nightly-report-production", "/spec/jobTemplate/spec/template/spec/containers/0/envFrom"
    ),
]


@pytest.mark.parametrize("delete", _DELETES, ids=str)
def test_a_deleted_field_is_reported_and_restored(
    cluster_view: ShuttleView, raw: RawClient, delete: FieldDelete
) -> None:
    live = cluster_view.live(delete.kind, delete.name)
    Actor(raw, "kubectl-patch").json_patch(key_of(live), [{"op": "remove", "path": delete.pointer}])
    drifted = cluster_view.plan()
    updates = [a for a in drifted.actions if isinstance(a, Update) and a.key == key_of(live)]
    assert len(updates) == 1, drifted.actions
    assert updates[0].reason is Reason.DRIFTED
    _revert(cluster_view)
    restored = cluster_view.live(delete.kind, delete.name)
    assert _at(restored, delete.pointer) == _at(live, delete.pointer)
    _others_untouched(cluster_view)


def _at(obj: object, pointer: str) -> object:
    for part in pointer.lstrip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]  # type: ignore[index]
    return obj
