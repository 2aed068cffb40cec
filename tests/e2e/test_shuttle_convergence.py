"""Shuttle end to end: the official client over HTTP against the Kubernetes test server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
from tests.e2e.conftest import ShuttleFactory, payload_without

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle import Shuttle
from starform_core.kube.labels import LABEL_ENVIRONMENT, LABEL_SERVICE_NAME
from starform_core.kube.objects import KubeObject, key_of
from starform_core.payload import example_payload, to_json
from starform_core.render import render
from starform_testkit.kube_testserver import KubeTestServer


def _deployment(name: str, environment: str = "production") -> KubeObject:
    for obj in render(example_payload()).objects:
        labels = obj["metadata"]["labels"]
        if (
            obj["kind"] == "Deployment"
            and labels[LABEL_SERVICE_NAME] == name
            and labels[LABEL_ENVIRONMENT] == environment
        ):
            return obj
    raise AssertionError(f"no deployment for {name}")


def _live(kube: KubeTestServer, obj: KubeObject) -> dict[str, Any] | None:
    key = key_of(obj)
    return kube.get(key.api_version, key.kind, key.name, namespace=key.namespace or None)


def _wait_cached(agent: Shuttle, predicate: Callable[[list[KubeObject]], bool]) -> None:
    """Poll the watch cache (filled by another thread) until ``predicate`` holds."""
    import time

    deadline = time.monotonic() + 10
    while not predicate(list(agent.cluster.live_objects())):
        assert time.monotonic() < deadline, "the watch cache never caught up"
        time.sleep(0.01)


def _converge(agent: Shuttle, *, ticks: int = 5) -> None:
    for _ in range(ticks):
        if agent.loop.run_once().converged:
            return
    raise AssertionError("did not converge")


def test_create_converges_and_a_no_op_tick_costs_no_write_and_no_list(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    first = agent.loop.run_once()
    assert first.converged
    assert (
        first.execution is not None
        and len(first.execution.outcomes) == len(render(example_payload()).objects) + 1
    )
    assert _live(kube, _deployment("storefront")) is not None
    lb = kube.get("v1", "Service", "envoy-starform-gateway", namespace="envoy-gateway-system")
    assert lb is not None
    assert lb["metadata"]["annotations"]["service.beta.kubernetes.io/do-loadbalancer-size-unit"] == "3"
    assert agent.applied == (example_payload().epoch, 42)
    _wait_cached(agent, lambda objs: len(objs) >= len(render(example_payload()).objects))
    agent.loop.run_once()
    kube.clear_request_log()
    quiet = agent.loop.run_once()
    assert quiet.plan is not None and quiet.plan.executable == ()
    assert kube.requests.writes() == []
    assert kube.requests.lists() == []
    assert source.not_modified >= 1
    assert "GenerationApplied" in source.event_types()


def test_out_of_band_delete_is_restored_and_reported(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    target = _deployment("mailer")
    key = key_of(target)
    assert kube.delete(key.api_version, key.kind, key.name, namespace=key.namespace)
    _wait_cached(agent, lambda objs: key not in {key_of(o) for o in objs})
    result = agent.loop.run_once()
    assert result.converged
    assert _live(kube, target) is not None
    restored = [e for e in source.events.values() if e["data"].get("object") == str(key)]
    assert [(e["type"], e["reason"]) for e in restored] == [
        ("Applied", "missing"),
        ("DriftReverted", "missing"),
    ]


def test_out_of_band_edits_are_reverted_with_attribution(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    target = _deployment("storefront")
    key = key_of(target)
    live = _live(kube, target)
    assert live is not None
    container = live["spec"]["template"]["spec"]["containers"][0]
    edited = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": key.name, "namespace": key.namespace},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            **container,
                            "image": "docker.io/evil/miner@sha256:" + "0" * 64,
                            "env": [*container.get("env", []), {"name": "INJECTED", "value": "1"}],
                        }
                    ]
                }
            }
        },
    }
    kube.patch_as("kubectl-edit", edited)
    _wait_cached(
        agent,
        lambda objs: any(
            key_of(o) == key and "evil" in o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in objs
        ),
    )
    _converge(agent)
    after = _live(kube, target)
    assert after is not None
    restored = after["spec"]["template"]["spec"]["containers"][0]
    assert restored["image"] == target["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "INJECTED" not in {e["name"] for e in restored.get("env", [])}
    drift = [
        e for e in source.events.values() if e["type"] == "DriftReverted" and e["data"]["object"] == str(key)
    ]
    assert drift, source.event_types()
    managers = {f.get("manager") for e in drift for f in e["data"].get("fields", [])}
    assert "kubectl-edit" in managers


def test_autoscaler_replicas_are_not_reverted(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    target = _deployment("storefront")  # autoscaled in the example
    key = key_of(target)
    hpa = next(
        o
        for o in render(example_payload()).objects
        if o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"]["name"] == key.name
    )
    kube.autoscale(key.namespace, hpa["metadata"]["name"], 7)
    _wait_cached(agent, lambda objs: any(key_of(o) == key and o["spec"].get("replicas") == 7 for o in objs))
    result = agent.loop.run_once()
    assert result.plan is not None and result.plan.executable == ()
    live = _live(kube, target)
    assert live is not None and live["spec"]["replicas"] == 7


def test_an_unowned_object_in_the_namespace_is_never_touched(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    namespace = key_of(_deployment("storefront")).namespace
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "hand-made", "namespace": namespace},
        "data": {"owner": "a human"},
    }
    kube.apply_as("kubectl", foreign)
    source.publish(payload_without(example_payload(), "mailer"))
    _converge(agent)
    kept = kube.get("v1", "ConfigMap", "hand-made", namespace=namespace)
    assert kept is not None and kept["data"] == {"owner": "a human"}
    assert _live(kube, _deployment("mailer")) is None, "the removed service is pruned"
    assert any(e["type"] == "Pruned" for e in source.events.values())


def test_starbase_down_keeps_enforcing_and_prunes_nothing_new(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    source.down = True
    target = _deployment("mailer")
    key = key_of(target)
    kube.delete(key.api_version, key.kind, key.name, namespace=key.namespace)
    _wait_cached(agent, lambda objs: key not in {key_of(o) for o in objs})
    result = agent.loop.run_once()
    assert not result.source_ok
    assert _live(kube, target) is not None, "the last good payload is still enforced"
    # an owned object Starbase never asked for is held, not pruned, while Starbase is away
    stray = attrs.evolve(key)
    extra = {**target, "metadata": {**target["metadata"], "name": "stray-" + stray.name}}
    agent.cluster.apply(extra, force=True)
    _wait_cached(agent, lambda objs: any(o["metadata"]["name"] == "stray-" + key.name for o in objs))
    held = agent.loop.run_once()
    assert held.plan is not None and held.plan.prune_held
    assert kube.get("apps/v1", "Deployment", "stray-" + key.name, namespace=key.namespace) is not None


def test_invalid_and_stale_payloads_are_rejected_and_reported(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    broken = json.loads(to_json(example_payload()))
    broken["generation"] = "x"
    source.publish_bytes(json.dumps(broken).encode())
    agent.loop.run_once()
    agent.loop.run_once()  # the same bad payload again is not re-parsed nor re-reported
    assert agent.held is not None and agent.held.document == example_payload()
    rejected = [e for e in source.events.values() if e["type"] == "PayloadRejected"]
    assert len(rejected) == 1
    assert rejected and rejected[-1]["reason"] == "invalid" and "/generation" in rejected[-1]["message"]
    source.publish(attrs.evolve(payload_without(example_payload(), "mailer"), generation=7))
    agent.loop.run_once()
    assert agent.held is not None and agent.held.document == example_payload()
    assert [e for e in source.events.values() if e["type"] == "PayloadRejected"][-1]["reason"] == "stale"
    assert _live(kube, _deployment("mailer")) is not None


def test_an_empty_payload_holds_the_prune(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    _converge(agent)
    source.publish(attrs.evolve(example_payload(), projects=(), generation=43))
    result = agent.loop.run_once()
    assert result.plan is not None and result.plan.prune_held
    assert _live(kube, _deployment("storefront")) is not None
    assert "PruneHeld" in source.event_types()


def test_a_restart_while_starbase_is_down_enforces_the_last_good_payload(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory, tmp_path: Any
) -> None:
    first = make_shuttle(source, state_dir=tmp_path / "durable")
    _converge(first)
    first.stop()
    source.down = True
    target = _deployment("storefront")
    key = key_of(target)
    kube.delete(key.api_version, key.kind, key.name, namespace=key.namespace)
    second = make_shuttle(source, state_dir=tmp_path / "durable")
    assert second.held is not None and second.held.document == example_payload()
    second.loop.run_once()
    assert _live(kube, target) is not None


def test_converges_through_injected_api_faults(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)
    kube.inject("error", probability=0.2, methods=["PATCH", "DELETE"], status=500)
    kube.inject("error", probability=0.1, methods=["PATCH"], status=429, retry_after=1)
    outcomes = [agent.loop.run_once() for _ in range(12)]
    kube.clear_faults()
    assert any(o.execution is not None and o.execution.failed for o in outcomes), "faults fired"
    _converge(agent)
    for obj in render(example_payload()).objects:
        assert _live(kube, obj) is not None, key_of(obj)


def test_without_the_gateway_api_routes_wait_and_everything_else_converges(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    kube.uninstall_gateway_api_crd()
    agent = make_shuttle(source)
    result = agent.loop.run_once()
    assert result.converged
    routes = [o for o in render(example_payload()).objects if o["kind"] == "HTTPRoute"]
    others = [o for o in render(example_payload()).objects if o["kind"] != "HTTPRoute"]
    assert routes
    assert all(_live(kube, o) is not None for o in others)
    deferred = [e for e in source.events.values() if e["reason"] == "kind-not-served"]
    assert len(deferred) == 1
    assert "HTTPRoute" in deferred[0]["message"]


def test_a_watch_event_triggers_a_reconcile_before_the_interval(
    kube: KubeTestServer, source: InMemorySource, make_shuttle: ShuttleFactory
) -> None:
    agent = make_shuttle(source)  # interval 30 s: only a watch event can explain a quick repair
    _converge(agent)
    target = _deployment("mailer")
    key = key_of(target)
    agent.run_in_thread()
    kube.delete(key.api_version, key.kind, key.name, namespace=key.namespace)
    kube.wait_for(
        lambda: _live(kube, target),
        timeout=10,
        message="the deployment restored by a watch-triggered reconcile",
    )
