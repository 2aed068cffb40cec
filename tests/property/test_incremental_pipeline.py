"""The incremental pipeline (render + plan, as the agent runs it) gives exactly what the full
pipeline gives, after any sequence of payload changes and live events.

Each example steps through: payload changes of every kind (``tests/render/payload_changes``,
including a payload rebuilt from its wire form, sharing nothing with the last), Shuttle applying
the last plan to an SSA model cluster, out-of-band edits and deletions, status-only writes (new
``resourceVersion``), a cache that hands out copies, kinds the cluster stops or starts serving,
live objects that turn unreadable, load-balancer targets read apart, and Starbase becoming
unreachable (no pruning). After every step ``IncrementalPipeline.plan`` must equal
``plan_desired_state`` of the same inputs, field by field.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.plan_scenarios import disturb
from tests.property.ssa_model import Cluster
from tests.property.test_incremental_plan import WatchView
from tests.render.payload_changes import changed

from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.payload import example_payload
from starform_core.payload.document import DesiredState
from starform_core.pipeline import (
    IncrementalPipeline,
    Kind,
    PipelineResult,
    plan_desired_state,
    rendered_kinds,
)
from starform_core.render import render

SEQUENCES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPS = (
    "payload",
    "payload",
    "payload",
    "same",
    "apply",
    "apply",
    "disturb",
    "bump",
    "copies",
    "kinds",
    "unreadable",
    "targets",
    "reach",
)


class Scenario:
    """One payload, one cluster, one live view and the inputs both pipelines get."""

    def __init__(self) -> None:
        self.document: DesiredState = example_payload()
        self.cluster = Cluster()
        self.view = WatchView()
        self.served: frozenset[Kind] | None = None
        self.unreadable: frozenset[ObjectKey] = frozenset()
        self.targets: list[KubeObject] = []
        self.allow_prune = True
        self.pipeline = IncrementalPipeline()
        for partial in render(self.document).partials:
            self.cluster.apply(partial, "envoy-gateway")
        self.live = self.view.refresh(self.cluster)

    def check(self) -> PipelineResult:
        arguments: dict[str, Any] = {
            "targets": self.targets,
            "served_kinds": self.served,
            "allow_prune": self.allow_prune,
            "unreadable": self.unreadable,
        }
        expected = plan_desired_state(self.document, self.live, **arguments)
        step = self.pipeline.plan(self.document, self.live, **arguments)
        assert step.result.rendering == expected.rendering
        assert step.result.desired == expected.desired
        assert step.result.deferred_kinds == expected.deferred_kinds
        assert step.result.plan == expected.plan
        assert step.result == expected
        self.pipeline = step.pipeline
        return expected

    def step(self, data: st.DataObject, what: str, last: PipelineResult) -> None:
        keys = sorted(self.view.served)
        some = (
            data.draw(st.lists(st.sampled_from(keys), max_size=5, unique=True), label="objects")
            if keys
            else []
        )
        if what == "payload":
            _, self.document = data.draw(changed(self.document), label="change")
        elif what == "same":
            self.document = attrs.evolve(self.document)  # equal, a new object: rendered again, reused
        elif what == "apply":
            self.cluster.execute(last.plan)
            self.live = self.view.refresh(self.cluster)
        elif what == "disturb":
            disturb(data, self.cluster)
            self.live = self.view.refresh(self.cluster)
        elif what == "bump":
            self.live = self.view.bump(some)
        elif what == "copies":
            self.live = self.view.copies(some, versioned=True)
        elif what == "kinds":
            kinds = sorted(rendered_kinds(render(self.document)))
            dropped = (
                data.draw(st.lists(st.sampled_from(kinds), max_size=2, unique=True), label="unserved")
                if kinds
                else []
            )
            self.served = None if not dropped else frozenset(kinds) - set(dropped)
        elif what == "unreadable":
            self.unreadable = frozenset(some[:2])
            self.live = [obj for obj in self.live if key_of(obj) not in self.unreadable]
        elif what == "targets":
            self._targets(data)
        else:
            self.allow_prune = not self.allow_prune

    def _targets(self, data: st.DataObject) -> None:
        """The load-balancer target read apart, sometimes also in the live view (counted once)."""
        partials = render(self.document).partials
        keys = [key_of(p) for p in partials if key_of(p) in self.cluster.values]
        self.targets = [
            copy.deepcopy(self.cluster.get(key)) for key in keys if data.draw(st.booleans(), label="read")
        ]


@SEQUENCES
@given(data=st.data(), steps=st.lists(st.sampled_from(STEPS), min_size=3, max_size=10))
def test_the_incremental_pipeline_equals_the_full_one_after_every_step(
    data: st.DataObject, steps: list[str]
) -> None:
    scenario = Scenario()
    last = scenario.check()
    for what in steps:
        scenario.step(data, what, last)
        last = scenario.check()


def test_the_same_payload_and_live_view_again_renders_nothing_and_judges_nothing() -> None:
    scenario = Scenario()
    first = scenario.check()
    scenario.cluster.execute(first.plan)
    scenario.live = scenario.view.refresh(scenario.cluster)
    step = scenario.pipeline.plan(scenario.document, scenario.live)
    again = step.pipeline.plan(scenario.document, scenario.live)
    assert again.render_delta is None, "the same payload object is not rendered again"
    assert again.judged == 0
    assert again.result == step.result


def test_one_changed_service_re_renders_and_re_plans_only_its_objects() -> None:
    scenario = Scenario()
    first = scenario.check()
    scenario.cluster.execute(first.plan)
    scenario.live = scenario.view.refresh(scenario.cluster)
    primed = scenario.pipeline.plan(scenario.document, scenario.live).pipeline
    project, service = next((p, s) for p, s in scenario.document.services() if s.release is not None)
    assert service.release is not None
    release = attrs.evolve(
        service.release, image=service.release.image.rpartition("@")[0] + "@sha256:" + "ab" * 32
    )
    edited = attrs.evolve(service, release=release)
    projects = tuple(
        attrs.evolve(
            p, services=tuple(edited if s.service_id == service.service_id else s for s in p.services)
        )
        if p.project_id == project.project_id
        else p
        for p in scenario.document.projects
    )
    document = attrs.evolve(scenario.document, projects=projects, generation=scenario.document.generation + 1)
    step = primed.plan(document, scenario.live)
    assert step.render_delta is not None and step.render_delta.services == {service.service_id}
    service_objects = [
        o
        for o in step.result.desired
        if o["metadata"].get("labels", {}).get("starform.io/service-id") == service.service_id
    ]
    assert 0 < step.judged <= len(service_objects)
    assert step.result == plan_desired_state(document, scenario.live)
    assert len(step.result.plan.executable) == 1
