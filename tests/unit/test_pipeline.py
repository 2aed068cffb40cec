"""The one plan pipeline: served kinds, load-balancer targets, prune permission, the printers."""

from __future__ import annotations

import copy

import attrs

from starform_core.kube.objects import key_of
from starform_core.payload import example_payload
from starform_core.pipeline import plan_desired_state, plan_document, plan_lines, rendered_kinds
from starform_core.plan import ActionKind, PlanOptions, Reason, plan
from starform_core.render import render

LB = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "envoy-starform-gateway", "namespace": "envoy-gateway-system"},
    "spec": {"type": "LoadBalancer"},
}
ROUTES = ("gateway.networking.k8s.io", "HTTPRoute")


def test_it_is_the_planner_on_the_rendering_with_the_payloads_policies() -> None:
    document = example_payload()
    rendering = render(document)
    result = plan_desired_state(document, [], targets=[LB])
    direct = plan(
        rendering.objects,
        [LB],
        partials=rendering.partials,
        options=PlanOptions(drift_policies=rendering.drift_policies, prune_policy=document.cluster.prune),
    )
    assert result.plan == direct
    assert result.deferred_kinds == ()
    assert result.desired == rendering.objects


def test_a_missing_target_is_held_and_a_present_one_updated() -> None:
    document = example_payload()
    held = plan_desired_state(document, []).plan
    assert [
        (a.kind, a.reason)
        for a in held.actions
        if a.key.kind == "Service" and a.key.name == LB["metadata"]["name"]
    ] == [(ActionKind.HELD, Reason.TARGET_MISSING)]
    updated = plan_desired_state(document, [], targets=[LB]).plan
    assert [(a.kind, a.reason) for a in updated.actions if a.key.name == LB["metadata"]["name"]] == [
        (ActionKind.UPDATE, Reason.ANNOTATION_CHANGED)
    ]
    twice = plan_desired_state(document, [LB], targets=[LB]).plan
    assert twice == updated, "a target also among the live objects counts once"


def test_kinds_the_cluster_does_not_serve_are_left_out_and_named() -> None:
    document = example_payload()
    rendering = render(document)
    served = rendered_kinds(rendering) - {ROUTES}
    result = plan_desired_state(document, [], served_kinds=served, rendering=rendering)
    assert result.deferred_kinds == (ROUTES,)
    assert not [a for a in result.plan.actions if a.key.kind == "HTTPRoute"]
    assert len(result.desired) == len([o for o in rendering.objects if o["kind"] != "HTTPRoute"])


def test_without_prune_permission_deletions_are_held() -> None:
    document = example_payload()
    live = [*render(document).objects]
    smaller = attrs.evolve(document, projects=document.projects[:1], generation=43)
    allowed = plan_desired_state(smaller, live, targets=[LB])
    refused = plan_desired_state(smaller, live, targets=[LB], allow_prune=False)
    assert refused.plan.prune.reason is Reason.STARBASE_UNREACHABLE
    assert not [a for a in refused.plan.executable if a.kind is ActionKind.DELETE]
    assert allowed.plan.prune.would_delete == refused.plan.prune.would_delete > 0


def test_the_printers_show_every_action_with_its_field_diffs() -> None:
    document = example_payload()
    rendering = render(document)
    live = [copy.deepcopy(dict(o)) for o in rendering.objects]
    deployment = next(o for o in live if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/edited@sha256:" + "0" * 64
    result = plan_desired_state(document, live, targets=[LB]).plan
    lines = plan_lines(result)
    assert lines[-1].startswith("plan: ")
    assert any(line.startswith("update ") and str(key_of(deployment)) in line for line in lines)
    assert any("example.com/edited" in line for line in lines), "the field diff is printed"
    document_form = plan_document(result)
    assert document_form["summary"] == result.summary()
    assert len(document_form["actions"]) == len(result.actions)
    assert any("changes" in entry for entry in document_form["actions"])
