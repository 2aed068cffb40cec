"""The planner against the in-memory Kubernetes API server, driven through the official client
exactly as Shuttle will: server-side apply with force, JSON-patch removals, guarded deletes.

This checks the planner against a second, independent server-side-apply implementation (real
managedFields format, server defaults, controllers that create ReplicaSets and Pods carrying
Shuttle's labels, the autoscaler writing ``spec.replicas`` through the scale subresource).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
from kubernetes.dynamic import DynamicClient
from tests.plan.kube_helpers import load_balancer

from starform_core.health import ServiceStatus, assess_services
from starform_core.kube.labels import FIELD_MANAGER, OWNERSHIP_SELECTOR
from starform_core.payload.example import example_payload
from starform_core.plan import (
    Create,
    Delete,
    Plan,
    PlanOptions,
    Reason,
    RemoveFields,
    Update,
    plan,
)
from starform_core.render import Rendering, render
from starform_testkit.kube_testserver import KubeTestServer

_CHILD_KINDS = (("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("batch/v1", "Job"))


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    with KubeTestServer(gateway_api=True) as server:
        yield server


_Dynamic: Any = DynamicClient  # the client is untyped; keep its Any out of the typed helpers


@pytest.fixture
def dyn(kube: KubeTestServer) -> Iterator[Any]:
    api: Any = kubernetes.client.ApiClient(kube.kube_config())
    yield _Dynamic(api)
    api.close()


def execute(dyn: Any, result: Plan) -> None:
    """What Shuttle does with a plan (reports are skipped)."""
    for action in result.executable:
        resource = dyn.resources.get(api_version=action.key.api_version, kind=action.key.kind)
        namespace = action.key.namespace or None
        if isinstance(action, Create | Update):
            dyn.server_side_apply(
                resource,
                body=dict(action.body),
                namespace=namespace,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
            )
        elif isinstance(action, RemoveFields):
            dyn.patch(
                resource,
                body=action.json_patch(),
                name=action.key.name,
                namespace=namespace,
                content_type="application/json-patch+json",
                field_manager=FIELD_MANAGER,
            )
        elif isinstance(action, Delete):
            preconditions = {"uid": action.uid} if action.uid else {}
            resource.delete(
                name=action.key.name,
                namespace=namespace,
                body={"preconditions": preconditions, "propagationPolicy": "Background"},
            )


def observe(dyn: Any, rendering: Rendering) -> list[dict[str, Any]]:
    """Live objects as Shuttle lists them: every kind it renders (and the children that inherit
    its labels) by the ownership selector, plus the targets of its partials."""
    kinds = {(o["apiVersion"], o["kind"]) for o in rendering.objects} | set(_CHILD_KINDS)
    live: list[dict[str, Any]] = []
    for api_version, kind in sorted(kinds):
        resource = dyn.resources.get(api_version=api_version, kind=kind)
        for item in resource.get(label_selector=OWNERSHIP_SELECTOR).to_dict()["items"]:
            live.append({"apiVersion": api_version, "kind": kind, **item})  # list items lack both
    for partial in rendering.partials:
        resource = dyn.resources.get(api_version=partial["apiVersion"], kind=partial["kind"])
        meta = partial["metadata"]
        live.append(
            {
                "apiVersion": partial["apiVersion"],
                "kind": partial["kind"],
                **resource.get(name=meta["name"], namespace=meta.get("namespace")).to_dict(),
            }
        )
    return live


def test_the_example_payload_converges_and_stays_converged(kube: KubeTestServer, dyn: Any) -> None:
    rendering = render(example_payload())
    options = PlanOptions(drift_policies=rendering.drift_policies)
    load_balancer(kube, rendering)

    first = plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options)
    assert first.summary()["create"] == len(rendering.objects)
    assert first.summary()["update"] == 1  # the size-unit annotation on the load balancer
    execute(dyn, first)

    live = observe(dyn, rendering)
    assert any(o["kind"] == "Pod" for o in live)  # controllers ran; pods carry Shuttle's labels
    again = plan(rendering.objects, live, partials=rendering.partials, options=options)
    assert again.is_empty, again.actions
    assert again.unchanged == len(rendering.objects) + len(rendering.partials)


def test_out_of_band_edits_are_reverted_and_the_autoscaler_is_left_alone(
    kube: KubeTestServer, dyn: Any
) -> None:
    rendering = render(example_payload())
    options = PlanOptions(drift_policies=rendering.drift_policies)
    load_balancer(kube, rendering)
    execute(
        dyn, plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options)
    )

    hpa = next(o for o in rendering.objects if o["kind"] == "HorizontalPodAutoscaler")
    namespace = hpa["metadata"]["namespace"]
    kube.autoscale(namespace, hpa["metadata"]["name"], 4)

    enforced = {sid for sid, policy in rendering.drift_policies.items() if policy.mode == "enforce"}
    target = next(
        o
        for o in rendering.objects
        if o["kind"] == "Deployment" and o["metadata"]["labels"]["starform.io/service-id"] in enforced
    )
    meta = {"name": target["metadata"]["name"], "namespace": target["metadata"]["namespace"]}
    stored = kube.get("apps/v1", "Deployment", meta["name"], namespace=meta["namespace"])
    assert stored is not None
    containers = copy.deepcopy(stored["spec"]["template"]["spec"]["containers"])
    containers[0]["image"] = "registry.example/evil:1"
    containers[0]["env"] = [*containers[0].get("env", []), {"name": "DEBUG", "value": "1"}]
    kube.patch_as(
        "kubectl-edit",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {**meta, "annotations": {"team": "payments"}},
            "spec": {"template": {"spec": {"containers": containers}}},
        },
    )

    drifted = plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options)
    kinds = {(type(a), a.reason) for a in drifted.actions}
    assert kinds == {(Update, Reason.DRIFTED), (RemoveFields, Reason.ADDED_OUT_OF_BAND)}, drifted.actions
    update = next(a for a in drifted.actions if isinstance(a, Update))
    assert {c.manager for c in update.changes} == {"kubectl-edit"}
    removal = next(a for a in drifted.actions if isinstance(a, RemoveFields))
    assert "/metadata/annotations/team" in removal.paths
    assert any(p.startswith("/spec/template/spec/containers/0/env") for p in removal.paths)
    execute(dyn, drifted)

    settled = plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options)
    assert settled.is_empty, settled.actions
    scaled = kube.get("apps/v1", "Deployment", hpa["spec"]["scaleTargetRef"]["name"], namespace=namespace)
    assert scaled is not None
    assert scaled["spec"]["replicas"] == 4


def test_a_removed_service_is_pruned_and_its_pods_go_with_it(kube: KubeTestServer, dyn: Any) -> None:
    rendering = render(example_payload())
    options = PlanOptions(drift_policies=rendering.drift_policies)
    load_balancer(kube, rendering)
    execute(
        dyn, plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options)
    )

    gone = next(o for o in rendering.objects if o["kind"] == "Deployment")
    service_id = gone["metadata"]["labels"]["starform.io/service-id"]
    fewer = [
        o
        for o in rendering.objects
        if o["metadata"].get("labels", {}).get("starform.io/service-id") != service_id
    ]
    pruned = plan(fewer, observe(dyn, rendering), partials=rendering.partials, options=options)
    assert pruned.actions
    assert all(isinstance(a, Delete) and a.reason is Reason.ORPHANED for a in pruned.actions)
    assert {a.key.kind for a in pruned.actions} >= {"Deployment"}
    assert not any(a.key.kind in ("Pod", "ReplicaSet") for a in pruned.actions)
    execute(dyn, pruned)
    assert plan(fewer, observe(dyn, rendering), partials=rendering.partials, options=options).is_empty


def test_health_of_the_applied_example_through_the_client() -> None:
    rendering = render(example_payload())
    options = PlanOptions(drift_policies=rendering.drift_policies)
    with KubeTestServer(gateway_api=True, failing_images=r"shop-orders") as kube:
        api: Any = kubernetes.client.ApiClient(kube.kube_config())
        dyn = _Dynamic(api)
        load_balancer(kube, rendering)
        execute(
            dyn,
            plan(rendering.objects, observe(dyn, rendering), partials=rendering.partials, options=options),
        )
        health = assess_services(observe(dyn, rendering))
        api.close()
    by_name = {
        o["metadata"]["labels"]["starform.io/service-name"]: o["metadata"]["labels"]["starform.io/service-id"]
        for o in rendering.objects
        if o["kind"] in ("Deployment", "CronJob")
    }
    assert health[by_name["orders-api"]].status is ServiceStatus.ERROR
    assert "ImagePullBackOff" in health[by_name["orders-api"]].reason
    assert health[by_name["ghost"]].status is ServiceStatus.PAUSED
    assert health[by_name["mailer"]].status is ServiceStatus.HEALTHY
    assert health[by_name["nightly-report"]].status is ServiceStatus.HEALTHY
