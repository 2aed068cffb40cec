"""The reconciler re-plans only when an input of the pure planner changed (and on a safety timer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

import starform_apps.shuttle.reconciler as reconciler_module
from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle.app import service_health
from starform_apps.shuttle.events import EventBuffer
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.reconciler import Reconciler
from starform_apps.shuttle.state import StateDir
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, key_of
from starform_core.model import DriftMode
from starform_core.payload import example_payload
from starform_core.render import render


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@attrs.define
class Counters:
    plans: int = 0
    health: int = 0


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> Counters:
    counted = Counters()
    real_plan = reconciler_module.plan

    def counting_plan(*args: Any, **kwargs: Any) -> Any:
        counted.plans += 1
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(reconciler_module, "plan", counting_plan)
    return counted


LB = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "envoy-starform-gateway", "namespace": "envoy-gateway-system"},
    "spec": {"type": "LoadBalancer"},
}


def _reconciler(
    tmp_path: Path, counters: Counters, clock: Clock
) -> tuple[Reconciler, FakeCluster, InMemorySource]:
    cluster = FakeCluster(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}}, LB]
    )
    source = InMemorySource(example_payload())

    def health(objects: Sequence[KubeObject]) -> Mapping[str, tuple[str, str]]:
        counters.health += 1
        return service_health(objects)

    reconciler = Reconciler(
        source=source,
        cluster=cluster,
        state=StateDir(tmp_path / "state"),
        events=EventBuffer(),
        metrics=ShuttleMetrics(),
        health=health,
        monotonic=clock,
        full_plan_seconds=300,
    )
    return reconciler, cluster, source


def test_an_unchanged_view_reuses_the_empty_plan(tmp_path: Path, counters: Counters) -> None:
    clock = Clock()
    reconciler, cluster, _ = _reconciler(tmp_path, counters, clock)
    assert reconciler.reconcile().converged
    second = reconciler.reconcile()  # Shuttle's own writes changed the view: plan again
    assert second.plan is not None
    assert second.plan.executable == ()
    plans, health = counters.plans, counters.health
    writes = len(cluster.writes())
    third = reconciler.reconcile()
    assert third.converged
    assert third.plan is second.plan
    assert (counters.plans, counters.health) == (plans, health)
    assert len(cluster.writes()) == writes


def test_any_change_of_the_view_or_the_payload_plans_again(tmp_path: Path, counters: Counters) -> None:
    clock = Clock()
    reconciler, cluster, source = _reconciler(tmp_path, counters, clock)
    reconciler.reconcile()
    reconciler.reconcile()
    baseline = counters.plans
    rendering = render(example_payload())
    deployment = next(
        o
        for o in rendering.objects
        if o["kind"] == "Deployment"
        and rendering.drift_policies[o["metadata"]["labels"][LABEL_SERVICE_ID]].mode is DriftMode.ENFORCE
    )
    live = cluster.stored(key_of(deployment))
    assert live is not None
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "example.com/out-of-band@sha256:" + "0" * 64
    cluster.put(live)  # an out-of-band edit
    edited = reconciler.reconcile()
    assert counters.plans == baseline + 1
    assert edited.execution is not None
    assert [o.result for o in edited.execution.outcomes] == ["ok"]
    reconciler.reconcile()
    settled = counters.plans
    source.publish(attrs.evolve(example_payload(), generation=43))
    reconciler.reconcile()
    assert counters.plans == settled + 1


def test_a_full_plan_still_runs_on_the_safety_timer(tmp_path: Path, counters: Counters) -> None:
    clock = Clock()
    reconciler, _, _ = _reconciler(tmp_path, counters, clock)
    reconciler.reconcile()
    reconciler.reconcile()
    reconciler.reconcile()
    before = counters.plans
    clock.now += 299
    reconciler.reconcile()
    assert counters.plans == before
    clock.now += 2
    reconciler.reconcile()
    assert counters.plans == before + 1


def test_starbase_going_away_is_a_new_input(tmp_path: Path, counters: Counters) -> None:
    clock = Clock()
    reconciler, _, source = _reconciler(tmp_path, counters, clock)
    reconciler.reconcile()
    reconciler.reconcile()
    before = counters.plans
    source.down = True
    result = reconciler.reconcile()
    assert not result.source_ok
    assert counters.plans == before + 1, "prune permission changed, so the plan is recomputed"
