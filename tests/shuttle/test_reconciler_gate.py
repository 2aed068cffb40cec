"""The reconciler re-plans only when an input of the pure pipeline changed (and on a safety timer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.shuttle.agents import Clock, fake_agent, gateway_cluster

from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle import Shuttle
from starform_apps.shuttle.status import service_health
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject, key_of
from starform_core.model import DriftMode
from starform_core.payload import DesiredState, example_payload
from starform_core.pipeline import IncrementalPipeline
from starform_core.render import render


@attrs.define
class Counters:
    plans: int = 0
    health: int = 0


@pytest.fixture
def counters(monkeypatch: pytest.MonkeyPatch) -> Counters:
    counted = Counters()
    real = IncrementalPipeline.plan

    def counting(self: IncrementalPipeline, *args: Any, **kwargs: Any) -> Any:
        counted.plans += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(IncrementalPipeline, "plan", counting)
    return counted


def _agent(tmp_path: Path, counters: Counters, clock: Clock) -> tuple[Shuttle, FakeCluster, InMemorySource]:
    cluster = gateway_cluster()
    source = InMemorySource(example_payload())

    def health(live: Sequence[KubeObject], desired: Sequence[KubeObject]) -> Mapping[str, tuple[str, str]]:
        counters.health += 1
        return service_health(live, desired)

    agent = fake_agent(tmp_path / "state", cluster=cluster, source=source, monotonic=clock, health=health)
    return agent, cluster, source


def test_an_unchanged_view_reuses_the_empty_plan(tmp_path: Path, counters: Counters) -> None:
    agent, cluster, _ = _agent(tmp_path, counters, Clock())
    assert agent.loop.run_once().converged
    second = agent.loop.run_once()  # Shuttle's own writes changed the view: plan again
    assert second.plan is not None
    assert second.plan.executable == ()
    plans, health = counters.plans, counters.health
    writes = len(cluster.writes())
    third = agent.loop.run_once()
    assert third.converged
    assert third.plan is second.plan
    assert third.planned is not None and not third.planned.fresh
    assert (counters.plans, counters.health) == (plans, health)
    assert len(cluster.writes()) == writes


def test_any_change_of_the_view_or_the_payload_plans_again(tmp_path: Path, counters: Counters) -> None:
    agent, cluster, source = _agent(tmp_path, counters, Clock())
    agent.loop.run_once()
    agent.loop.run_once()
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
    edited = agent.loop.run_once()
    assert counters.plans == baseline + 1
    assert edited.execution is not None
    assert [o.result.value for o in edited.execution.outcomes] == ["ok"]
    agent.loop.run_once()
    settled = counters.plans
    source.publish(attrs.evolve(example_payload(), generation=43))
    agent.loop.run_once()
    assert counters.plans == settled + 1


def test_a_full_plan_still_runs_on_the_safety_timer(tmp_path: Path, counters: Counters) -> None:
    clock = Clock()
    agent, _, _ = _agent(tmp_path, counters, clock)
    for _ in range(3):
        agent.loop.run_once()
    before = counters.plans
    clock.now += 299
    agent.loop.run_once()
    assert counters.plans == before
    clock.now += 2
    agent.loop.run_once()
    assert counters.plans == before + 1


def test_starbase_going_away_is_a_new_input(tmp_path: Path, counters: Counters) -> None:
    agent, _, source = _agent(tmp_path, counters, Clock())
    agent.loop.run_once()
    agent.loop.run_once()
    before = counters.plans
    source.down = True
    result = agent.loop.run_once()
    assert not result.source_ok
    assert counters.plans == before + 1, "prune permission changed, so the plan is recomputed"


def _without(document: DesiredState, service_name: str) -> DesiredState:
    projects = [
        attrs.evolve(p, services=tuple(s for s in p.services if s.name != service_name))
        for p in document.projects
    ]
    return attrs.evolve(document, projects=tuple(projects))


def test_a_new_payload_is_judged_again_though_the_live_view_did_not_change(
    tmp_path: Path, counters: Counters
) -> None:
    """Health follows the desired objects too: a service added to the payload whose objects the
    cluster refuses is reported missing, though no write changed the live view."""
    example = example_payload()
    first = attrs.evolve(_without(example, "mailer"), generation=example.generation + 1)
    cluster = gateway_cluster()
    source = InMemorySource(first)
    agent = fake_agent(tmp_path / "state", cluster=cluster, source=source)
    agent.loop.run_once()
    agent.loop.run_once()
    mailer = next(s.service_id for p in example.projects for s in p.services if s.name == "mailer")
    before = {s["service_id"]: s["health"] for s in source.statuses[-1]["services"]}
    assert mailer not in before
    kept = {key_of(o) for o in render(first).objects}
    added = [key_of(o) for o in render(example).objects if key_of(o) not in kept]
    assert added, "mailer has objects of its own"
    for key in added:
        cluster.fail(key)  # nothing of the new service reaches the cluster
    revision = cluster.revision()
    source.publish(attrs.evolve(example, generation=first.generation + 1))
    result = agent.loop.run_once()
    assert cluster.revision() == revision, "the live view did not change"
    assert result.report is not None and result.report.outcome.value == "failed"
    reported = {s["service_id"]: (s["health"], s["reason"]) for s in source.statuses[-1]["services"]}
    health, reason = reported[mailer]
    assert health == "missing"
    assert all(str(key) in reason for key in added if key.kind in ("Deployment", "ServiceAccount")), reason
    assert {sid: h for sid, (h, _) in reported.items() if sid != mailer} == before
