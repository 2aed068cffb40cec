"""The planner under the ``adopt`` drift policy: adoptable out-of-band values wait (reported,
kept live), everything else is reverted without touching what waits, rejected values are reverted."""

from __future__ import annotations

from tests.plan.objects import SID, deployment
from tests.property.ssa_model import Cluster

from starform_core.kube.objects import key_of
from starform_core.model.enums import DriftMode
from starform_core.model.workload import DriftPolicy, RevertField
from starform_core.plan import DriftDetected, PlanOptions, Reason, Update, plan

CONTAINER = ("spec", "template", "spec", "containers", 0)


def _options(*reverts: RevertField) -> PlanOptions:
    return PlanOptions(drift_policies={SID: DriftPolicy(mode=DriftMode.ADOPT, revert=reverts)})


def _cluster(options: PlanOptions) -> Cluster:
    cluster = Cluster()
    cluster.execute(plan([deployment()], [], options=options))
    return cluster


def test_an_adoptable_edit_waits_and_nothing_is_reverted() -> None:
    options = _options()
    cluster = _cluster(options)
    cluster.edit(key_of(deployment()), "kubectl", ("spec", "replicas"), 5)
    (action,) = plan([deployment()], cluster.live(), options=options).actions
    assert isinstance(action, DriftDetected)
    assert action.reason is Reason.AWAITING_ADOPTION
    (change,) = action.changes
    assert (change.path, change.live, change.desired, change.manager) == (
        "/spec/replicas",
        "5",
        "2",
        "kubectl",
    )
    assert action.uid is not None


def test_other_drift_is_reverted_and_the_waiting_value_survives_the_revert() -> None:
    options = _options()
    cluster = _cluster(options)
    key = key_of(deployment())
    cluster.edit(key, "kubectl", ("spec", "replicas"), 5)
    cluster.edit(key, "kubectl", (*CONTAINER, "image"), "evil:1")
    actions = plan([deployment()], cluster.live(), options=options).actions
    [update] = [a for a in actions if isinstance(a, Update)]
    [waiting] = [a for a in actions if isinstance(a, DriftDetected)]
    assert update.reason is Reason.DRIFTED
    assert [c.path for c in update.changes] == ["/spec/template/spec/containers/0/image"]
    assert update.body["spec"]["replicas"] == 5, "the apply body pins the waiting value"
    assert [c.path for c in waiting.changes] == ["/spec/replicas"]
    cluster.execute(plan([deployment()], cluster.live(), options=options))
    live = next(o for o in cluster.live() if o["kind"] == "Deployment")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "app:1"
    assert live["spec"]["replicas"] == 5
    (still,) = plan([deployment()], cluster.live(), options=options).actions
    assert isinstance(still, DriftDetected) and [c.path for c in still.changes] == ["/spec/replicas"]


def test_a_rejected_value_is_reverted_and_another_value_waits_again() -> None:
    rejected = _options(RevertField(field="Deployment:/spec/replicas", live="5"))
    cluster = _cluster(rejected)
    key = key_of(deployment())
    cluster.edit(key, "kubectl", ("spec", "replicas"), 5)
    (update,) = plan([deployment()], cluster.live(), options=rejected).actions
    assert isinstance(update, Update) and update.reason is Reason.DRIFTED
    assert [(c.path, c.live) for c in update.changes] == [("/spec/replicas", "5")]
    cluster.execute(plan([deployment()], cluster.live(), options=rejected))
    assert plan([deployment()], cluster.live(), options=rejected).is_empty
    cluster.edit(key, "kubectl", ("spec", "replicas"), 7)
    (action,) = plan([deployment()], cluster.live(), options=rejected).actions
    assert isinstance(action, DriftDetected), "only the rejected value is reverted"


def test_a_field_adoption_does_not_cover_is_reverted_as_under_enforce() -> None:
    options = _options()
    cluster = _cluster(options)
    cluster.edit(key_of(deployment()), "kubectl", ("metadata", "annotations", "team"), "x")
    actions = plan([deployment()], cluster.live(), options=options).actions
    assert actions and not any(isinstance(a, DriftDetected) for a in actions)
    assert plan([deployment()], cluster.live(), options=options).executable
