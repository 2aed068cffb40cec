"""Convergence (§6): apply a plan with a server-side-apply model, plan again: nothing to do."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.plan_scenarios import RELEASED, applied, disturb, scenarios
from tests.property.ssa_model import Cluster
from tests.strategies.kube_objects import desired_objects
from tests.strategies.payloads import desired_states

from starform_core.payload.document import DesiredState
from starform_core.plan import ActionKind, PlanOptions, plan
from starform_core.render import render

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RENDERED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_REPORTS = {ActionKind.HELD, ActionKind.CONFLICT, ActionKind.DRIFT_DETECTED}


@FAST
@given(scenario=scenarios())
def test_one_executed_plan_converges(scenario: tuple[list[dict[str, object]], Cluster]) -> None:
    desired, cluster = scenario
    first = plan(desired, cluster.live(), options=RELEASED)
    cluster.execute(first)
    second = plan(desired, cluster.live(), options=RELEASED)
    assert not second.executable, second.actions
    reported = {(a.kind, a.key, a.reason) for a in first.actions if a.kind in _REPORTS}
    assert {(a.kind, a.key, a.reason) for a in second.actions} == reported


@FAST
@given(desired=desired_objects(), data=st.data())
def test_out_of_band_changes_are_reverted_when_managed_fields_are_present(
    desired: list[dict[str, object]], data: st.DataObject
) -> None:
    cluster = applied(desired)
    before = {key: cluster.get(key) for key in cluster.values}
    edits = disturb(data, cluster)
    first = plan(desired, cluster.live(), options=RELEASED)
    if edits:
        assert not first.is_empty or all("controller" in e or "replicas" in e for e in edits), edits
    cluster.execute(first)
    for key, obj in before.items():
        now = cluster.values[key]
        for part in ("spec", "data"):
            if part in obj and not (key.kind == "Deployment" and part == "spec"):
                assert now.get(part) == obj[part], key
        annotations = now["metadata"].get("annotations") or {}
        assert "team" not in annotations
        assert "extra" not in (now["metadata"].get("labels") or {})
        if key.kind == "Deployment":
            container = now["spec"]["template"]["spec"]["containers"][0]
            assert container["image"] != "evil:latest"
            assert all(e["name"] != "EXTRA" and e.get("value") != "tampered" for e in container["env"])


@RENDERED
@given(previous=desired_states(), current=desired_states(), data=st.data())
def test_rendered_payloads_converge(
    previous: DesiredState, current: DesiredState, data: st.DataObject
) -> None:
    old = render(previous)
    cluster = applied(old.objects)
    disturb(data, cluster)
    new = render(current)
    options = PlanOptions(drift_policies=new.drift_policies, prune_policy=RELEASED.prune_policy)
    first = plan(new.objects, cluster.live(), partials=new.partials, options=options)
    cluster.execute(first)
    second = plan(new.objects, cluster.live(), partials=new.partials, options=options)
    assert not second.executable, second.actions
    assert {a.kind for a in second.actions} <= _REPORTS
    reported = {a.key for a in second.actions if a.kind is not ActionKind.HELD}
    assert second.unchanged == len(new.objects) - len(reported)
