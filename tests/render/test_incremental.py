"""The incremental renderer renders exactly what the full renderer renders, re-rendering only
what depends on what changed (issue 14)."""

from __future__ import annotations

import gc
import json
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from tests.render.large_payloads import large_payload, with_new_release, with_new_var_value
from tests.render.payload_changes import changed
from tests.render.test_render_pinned import digest
from tests.strategies.payloads import SECRET_MARKER, desired_states

import starform_core.render.incremental as incremental
import starform_core.render.rendering as rendering_module
from starform_core.kube import labels as kl
from starform_core.kube.objects import ObjectKey, key_of
from starform_core.kube.ordering import apply_order_key, sort_for_apply
from starform_core.model.cluster import ClusterSettings, LoadBalancerSettings
from starform_core.model.project import Project
from starform_core.payload.codec import from_structure, to_json
from starform_core.payload.document import DesiredState
from starform_core.render import IncrementalRenderer, RenderDelta, Rendering, render
from starform_core.render.apply_order import rendered_order_key, reordered
from starform_core.render.parts import project_parts, render_part

_SEQUENCES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _by_key(rendering: Rendering) -> dict[ObjectKey, Any]:
    return {key_of(obj): obj for obj in rendering.objects}


def _services_of(keys: frozenset[ObjectKey], *renderings: Rendering) -> set[str]:
    """The service ids labelled on the objects named by ``keys`` in any of ``renderings``."""
    found = set()
    for rendering in renderings:
        for key, obj in _by_key(rendering).items():
            service_id = obj["metadata"]["labels"].get(kl.LABEL_SERVICE_ID)
            if key in keys and service_id is not None:
                found.add(service_id)
    return found


def _check_delta(before: Rendering, after: Rendering, delta: RenderDelta) -> None:
    """The delta is exactly the difference, and every object it does not name is the old one."""
    old, new = _by_key(before), _by_key(after)
    assert delta.added == new.keys() - old.keys()
    assert delta.removed == old.keys() - new.keys()
    assert delta.changed == {key for key in new.keys() & old.keys() if new[key] != old[key]}
    for key in new.keys() & old.keys() - delta.changed:
        assert new[key] is old[key], key
    assert delta.partials_changed == (after.partials != before.partials)
    assert _services_of(delta.added | delta.changed, after) <= delta.services


def _cluster_inputs(cluster: ClusterSettings) -> tuple[object, ...]:
    """The cluster settings any object depends on (not its name, region, prune policy or LB)."""
    return (
        cluster.cluster_id,
        cluster.gateway,
        cluster.storage_class,
        cluster.egress_allow,
        cluster.metrics_namespace,
    )


def _header(project: Project) -> tuple[object, ...]:
    return (project.workspace_id, project.tier, tuple(env.name for env in project.environments))


def _check_only_dependents(before: DesiredState, after: DesiredState, delta: RenderDelta) -> None:
    """What did not change, in the payload's own terms, was not rendered again."""
    if _cluster_inputs(before.cluster) != _cluster_inputs(after.cluster):
        return
    old_projects = {p.project_id: p for p in before.projects}
    for project in after.projects:
        old = old_projects.get(project.project_id)
        if old is None:
            continue
        if _header(old) == _header(project):
            assert project.project_id not in delta.projects
            old_groups = {g.var_group_id: g for g in old.var_groups}
            for group in project.var_groups:
                if old_groups.get(group.var_group_id) == group:
                    assert group.var_group_id not in delta.var_groups
        if old == project:
            assert not {s.service_id for s in project.services} & delta.services


def _service_ids(payload: DesiredState) -> set[str]:
    return {service.service_id for _, service in payload.services()}


_STARTS = st.one_of(
    desired_states(max_projects=2),
    st.builds(large_payload, st.integers(1, 24), per_project=st.integers(1, 8)),
)
"""Generated payloads, and payloads where every service attaches var groups and most run."""


@_SEQUENCES
@given(_STARTS, st.data())
def test_any_sequence_of_changes_renders_as_the_full_renderer(
    payload: DesiredState, data: st.DataObject
) -> None:
    renderer, delta = IncrementalRenderer().render(payload)
    assert renderer.rendering == render(payload)
    assert delta.added == _by_key(renderer.rendering).keys()
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        kind, following = data.draw(changed(payload), label="change")
        note(kind)
        before = renderer.rendering
        renderer, delta = renderer.render(following)
        full = render(following)
        assert renderer.rendering == full
        assert digest(renderer.rendering) == digest(full)
        _check_delta(before, renderer.rendering, delta)
        _check_only_dependents(payload, following, delta)
        assert delta.services_removed == _service_ids(payload) - _service_ids(following)
        if kind in ("unrendered", "reparsed"):
            assert delta == RenderDelta(partials_changed=False)
            assert renderer.rendering.objects is before.objects
        payload = following


# --- one change at 300 services, by what it re-renders -------------------------------------------
@pytest.fixture(scope="module")
def at_300() -> tuple[DesiredState, IncrementalRenderer]:
    payload = large_payload(300)
    renderer, _ = IncrementalRenderer().render(payload)
    return payload, renderer


def _step(renderer: IncrementalRenderer, payload: DesiredState) -> tuple[IncrementalRenderer, RenderDelta]:
    following, delta = renderer.render(payload)
    assert following.rendering == render(payload)
    _check_delta(renderer.rendering, following.rendering, delta)
    return following, delta


def test_a_new_release_re_renders_its_service_and_changes_its_deployment(
    at_300: tuple[DesiredState, IncrementalRenderer],
) -> None:
    payload, renderer = at_300
    following = with_new_release(payload, project_index=4, service_index=2)
    service = following.projects[4].services[2]
    _, delta = _step(renderer, following)
    assert delta.services == {service.service_id}
    assert not delta.projects and not delta.var_groups and not delta.added and not delta.removed
    assert {(key.kind, key.name) for key in delta.changed} == {
        ("Deployment", f"{service.name}-{service.environment}")
    }


def test_a_var_value_re_renders_its_secret_and_the_services_attaching_it(
    at_300: tuple[DesiredState, IncrementalRenderer],
) -> None:
    payload, renderer = at_300
    following = with_new_var_value(payload, project_index=3, group_index=0)
    project = following.projects[3]
    group = project.var_groups[0]
    attaching = {
        s.service_id for s in project.services if group.var_group_id in {a.var_group_id for a in s.var_groups}
    }
    _, delta = _step(renderer, following)
    assert delta.var_groups == {group.var_group_id}
    assert delta.services == attaching and len(attaching) == len(project.services)
    kinds = {key.kind for key in delta.changed}
    assert kinds == {"Secret", "Deployment", "CronJob"}  # the checksum annotation rolls the pods
    assert not delta.projects


def test_a_cluster_setting_re_renders_only_what_reads_it(
    at_300: tuple[DesiredState, IncrementalRenderer],
) -> None:
    payload, renderer = at_300
    storage = attrs.evolve(payload, cluster=attrs.evolve(payload.cluster, storage_class="fast-ssd"))
    _, delta = _step(renderer, storage)
    assert delta.services == {s.service_id for _, s in payload.services()} and not delta.projects
    assert {key.kind for key in delta.changed} == {"PersistentVolumeClaim"}
    metrics = attrs.evolve(payload, cluster=attrs.evolve(payload.cluster, metrics_namespace="vm"))
    _, delta = _step(renderer, metrics)
    assert delta.projects == {p.project_id for p in payload.projects} and not delta.services
    assert {key.name.partition("-")[0] for key in delta.changed} == {"env"}


def test_the_load_balancer_changes_only_the_partial(at_300: tuple[DesiredState, IncrementalRenderer]) -> None:
    payload, renderer = at_300
    assert payload.cluster.load_balancer is not None
    bigger = attrs.evolve(
        payload.cluster.load_balancer, size_unit=payload.cluster.load_balancer.size_unit + 1
    )
    following, delta = _step(
        renderer, attrs.evolve(payload, cluster=attrs.evolve(payload.cluster, load_balancer=bigger))
    )
    assert delta == RenderDelta(partials_changed=True)
    assert following.rendering.objects is renderer.rendering.objects
    assert isinstance(bigger, LoadBalancerSettings)


def test_a_payload_parsed_afresh_reuses_every_part(at_300: tuple[DesiredState, IncrementalRenderer]) -> None:
    payload, renderer = at_300
    again = from_structure(json.loads(to_json(payload)))  # as Shuttle receives it
    assert again == payload and again.projects[0] is not payload.projects[0]
    following, delta = _step(renderer, again)
    assert delta == RenderDelta()
    assert following.rendering.objects is renderer.rendering.objects


def test_a_project_equal_to_the_last_one_is_reused_whole(
    at_300: tuple[DesiredState, IncrementalRenderer], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload, renderer = at_300
    walked: list[str] = []

    def recording(payload: DesiredState, project: Project, *args: Any) -> Any:
        walked.append(project.project_id)
        return project_parts(payload, project, *args)

    monkeypatch.setattr(incremental, "project_parts", recording)
    again = from_structure(json.loads(to_json(with_new_release(payload, project_index=4, service_index=2))))
    following, delta = _step(renderer, again)
    assert len(payload.projects) > 1 and walked == [payload.projects[4].project_id]  # no other
    assert len(delta.services) == 1 and following.rendering.warnings == renderer.rendering.warnings
    walked.clear()
    _step(renderer, attrs.evolve(again, cluster=attrs.evolve(again.cluster, region="elsewhere")))
    assert walked == [project.project_id for project in payload.projects]  # new cluster settings


def test_the_collector_is_paused_while_rendering_and_as_it_was_after(
    at_300: tuple[DesiredState, IncrementalRenderer], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload, renderer = at_300
    seen: list[bool] = []

    def recording(scope: Any) -> Any:
        seen.append(gc.isenabled())
        return render_part(scope)

    monkeypatch.setattr(rendering_module, "render_part", recording)
    monkeypatch.setattr(incremental, "render_part", recording)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            render(payload)
            renderer.render(with_new_release(payload))
            assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert seen and not any(seen)


def test_a_renderer_is_a_value_that_rendering_does_not_change(
    at_300: tuple[DesiredState, IncrementalRenderer],
) -> None:
    payload, renderer = at_300
    before = renderer.rendering
    first, _ = renderer.render(with_new_release(payload))
    second, _ = renderer.render(with_new_var_value(payload))
    assert renderer.rendering is before and renderer.rendering == render(payload)
    assert first.rendering == render(with_new_release(payload))
    assert second.rendering == render(with_new_var_value(payload))
    back, delta = second.render(payload)
    assert back.rendering == before
    assert delta.changed and not delta.added and not delta.removed


def test_an_empty_payload_after_a_full_one_removes_everything(
    at_300: tuple[DesiredState, IncrementalRenderer],
) -> None:
    payload, renderer = at_300
    empty = attrs.evolve(payload, projects=(), cluster=attrs.evolve(payload.cluster, load_balancer=None))
    following, delta = _step(renderer, empty)
    assert following.rendering == render(empty) and following.rendering.objects == ()
    assert delta.removed == _by_key(renderer.rendering).keys()
    assert delta.services_removed == {s.service_id for _, s in payload.services()}
    assert delta.partials_changed


# --- keeping the apply order ---------------------------------------------------------------------
_keys = st.tuples(
    st.integers(0, 5),
    st.sampled_from(["", "apps"]),
    st.sampled_from(["A", "B"]),
    st.sampled_from(["n", "m"]),
    st.text("ab", max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.sets(_keys, max_size=90), st.data())
def test_the_kept_order_is_the_sorted_order(
    keys: set[tuple[int, str, str, str, str]], data: st.DataObject
) -> None:
    order = tuple(sorted((key, {"k": key}) for key in keys))
    leaving = data.draw(st.sets(st.sampled_from(sorted(keys))) if keys else st.just(set[Any]()), label="out")
    staying = keys - leaving
    arriving = data.draw(st.sets(_keys.filter(lambda key: key not in staying), max_size=90), label="in")
    objects = dict(order)
    out = {key: objects[key] for key in leaving}
    into = [(key, {"k": key, "new": True}) for key in arriving]
    result = reordered(order, out, into)
    expected = sorted([item for item in order if item[0] in staying] + into, key=lambda item: item[0])
    assert [key for key, _ in result] == [key for key, _ in expected]
    assert all(a is b for (_, a), (_, b) in zip(result, expected, strict=True))


def test_an_order_with_a_repeated_key_is_sorted_afresh() -> None:
    first, second, third = {"n": 1}, {"n": 2}, {"n": 3}
    key = (1, "", "Secret", "ns", "a")
    order = ((key, first), (key, second), ((2, "", "Secret", "ns", "b"), third))
    # taking out the second object of a repeated key cannot be done by bisection
    result = reordered(order, {key: second}, [])
    assert [obj for _, obj in result] == [first, third]


@given(_STARTS)
@settings(max_examples=40, deadline=None)
def test_the_renderer_orders_its_objects_by_the_apply_order_key(payload: DesiredState) -> None:
    rendered = render(payload).objects
    assert [rendered_order_key(obj) for obj in rendered] == [apply_order_key(obj) for obj in rendered]
    assert list(rendered) == sort_for_apply(rendered)


@given(desired_states(max_projects=2))
@settings(max_examples=30, deadline=None)
def test_renderers_and_renderings_print_no_object(payload: DesiredState) -> None:
    renderer, _ = IncrementalRenderer().render(payload)
    printed = repr(renderer) + repr(renderer.rendering) + repr(render(payload))
    assert SECRET_MARKER not in printed
    assert "'data':" not in printed
    assert f"<{len(renderer.rendering.objects)} objects>" in printed
