"""The fast renderer renders exactly what the renderer rendered before it was made fast.

Two pins, both written before the optimisation (issue 14):

* golden digests of deterministic large payloads, computed with the renderer as it was: they pin
  every byte, every type and the order of the objects end to end;
* golden digests of 57 Hypothesis payloads (drawn with ``@seed(14)``, stored in
  ``render_corpus.jsonl.gz`` as payload structures), computed with the renderer as it was;
* a frozen copy of the old orchestration (deep copy into plain JSON, sort through
  :class:`~starform_core.kube.objects.ObjectKey`, UUID parsing), compared on the example payload
  and on Hypothesis payloads.

A deliberate change of what the renderer produces updates the digests here (print them with
``digest(render(...))``; the corpus keeps its payloads and rewrites its digests) and says so in
its commit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.render.large_payloads import large_payload, with_new_release, with_new_var_value
from tests.strategies.payloads import desired_states

from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.ordering import APPLY_RANK, UNKNOWN_RANK
from starform_core.model.cluster import ClusterSettings
from starform_core.model.enums import RunState, ServiceType
from starform_core.model.project import Project
from starform_core.payload.codec import from_structure
from starform_core.payload.document import DesiredState
from starform_core.payload.example import example_payload
from starform_core.render import Rendering, render
from starform_core.render.autoscaling import horizontal_pod_autoscaler
from starform_core.render.expose import http_route, is_routed, kube_service, needs_service
from starform_core.render.loadbalancer import size_unit_partial
from starform_core.render.metadata import ServiceScope
from starform_core.render.namespace import limit_range, namespace, resource_quota
from starform_core.render.naming import allocate_service_names, namespace_name, route_name
from starform_core.render.network import default_deny, environment_policy, gateway_ingress_policy
from starform_core.render.storage import persistent_volume_claim
from starform_core.render.vars import var_conflicts, var_group_secret
from starform_core.render.workloads import cronjob, deployment, service_account

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def digest(rendering: Rendering) -> str:
    """SHA-256 of the rendering's ``repr``: values, container and leaf types, key order, order."""
    text = repr(
        (rendering.objects, rendering.partials, rendering.warnings, sorted(rendering.drift_policies.items()))
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --- the renderer as it was before issue 14 (frozen) ---------------------------------------------
def _old_plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _old_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_old_plain(item) for item in value]
    return value


def _old_sort_key(key: ObjectKey) -> tuple[int, ObjectKey]:
    return (APPLY_RANK.get(key.kind, UNKNOWN_RANK), key)


def _old_project_objects(cluster: ClusterSettings, project: Project) -> Iterator[dict[str, Any]]:
    yield namespace(cluster, project)
    yield resource_quota(cluster, project)
    yield limit_range(cluster, project)
    yield default_deny(cluster, project)
    for env in project.environments:
        yield environment_policy(cluster, project, env.name)
    for group in project.var_groups:
        yield var_group_secret(cluster, project, group)


def _old_service_objects(scope: ServiceScope) -> Iterator[dict[str, Any]]:
    service = scope.service
    yield service_account(scope)
    for volume in service.volumes:
        yield persistent_volume_claim(scope, volume)
    release = service.release
    if release is None:
        return
    if service.type is ServiceType.CRON:
        yield cronjob(scope, release)
        return
    yield deployment(scope, release)
    if service.autoscaling is not None and service.state is RunState.ACTIVE:
        yield horizontal_pod_autoscaler(scope, service.autoscaling)
    if needs_service(scope):
        yield kube_service(scope)
    if is_routed(scope):
        yield http_route(scope)
        yield gateway_ingress_policy(scope)


def _old_objects(payload: DesiredState) -> Iterator[dict[str, Any]]:
    cluster = payload.cluster
    for project in payload.projects:
        yield from _old_project_objects(cluster, project)
        names = allocate_service_names(
            [
                (s.service_id, s.name, s.environment, tuple(v.name for v in s.volumes))
                for s in project.services
            ]
        )
        for service in project.services:
            scope = ServiceScope(
                cluster=cluster, project=project, service=service, names=names[service.service_id]
            )
            yield from _old_service_objects(scope)


def old_render(payload: DesiredState) -> Rendering:
    """The renderer of commit 2179212, orchestration and all."""
    ordered: list[KubeObject] = sorted(_old_objects(payload), key=lambda obj: _old_sort_key(key_of(obj)))
    load_balancer = payload.cluster.load_balancer
    drift = {service.service_id: service.drift for _, service in payload.services()}
    return Rendering(
        objects=tuple(_old_plain(obj) for obj in ordered),
        partials=() if load_balancer is None else (_old_plain(size_unit_partial(load_balancer)),),
        warnings=tuple(c for project, service in payload.services() for c in var_conflicts(project, service)),
        drift_policies=dict(sorted(drift.items())),
    )


# --- the pins ------------------------------------------------------------------------------------
GOLDEN = {
    "300 services": (
        lambda: large_payload(300),
        "c380589e2f35b8b4f7e086a091e6d44bc67f945f29b80bd09d07373c80eaba3c",
    ),
    "45 services, 9 a project": (
        lambda: large_payload(45, per_project=9),
        "1108d63718874fabd8ea338783a62655a5c6fe13a840ea59c40be437839c4366",
    ),
    "300 services, one new release": (
        lambda: with_new_release(large_payload(300), project_index=3, service_index=5),
        "7e537394ec7cba7501d224bb11d0b0b2da6bfeddb01eab86eea4e82987f2827d",
    ),
    "300 services, one var value changed": (
        lambda: with_new_var_value(large_payload(300), project_index=2, group_index=1),
        "548e083f348c160d8f0bc1cba63d7e16d696ea817393e5a45b401b356dc69968",
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_large_payloads_render_to_the_golden_digest(case: str) -> None:
    build, expected = GOLDEN[case]
    assert digest(render(build())) == expected


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    with gzip.open(Path(__file__).with_name("render_corpus.jsonl.gz"), "rt", encoding="utf-8") as lines:
        return [(entry["digest"], entry["payload"]) for entry in map(json.loads, lines)]


def test_stored_hypothesis_payloads_render_to_their_golden_digests() -> None:
    corpus = _corpus()
    assert len(corpus) == 57
    failed = [
        index
        for index, (expected, data) in enumerate(corpus)
        if digest(render(from_structure(data))) != expected
    ]
    assert failed == []


def test_the_example_renders_as_the_old_renderer_did() -> None:
    payload = example_payload()
    assert digest(render(payload)) == digest(old_render(payload))


@_SETTINGS
@given(desired_states())
def test_any_payload_renders_as_the_old_renderer_did(payload: DesiredState) -> None:
    new, old = render(payload), old_render(payload)
    assert new == old
    assert digest(new) == digest(old)


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict | list):
        yield value
        for item in value.values() if isinstance(value, dict) else value:
            yield from _containers(item)


@_SETTINGS
@given(desired_states())
def test_no_container_is_shared_between_or_inside_objects(payload: DesiredState) -> None:
    rendering = render(payload)
    seen = [id(c) for obj in (*rendering.objects, *rendering.partials) for c in _containers(obj)]
    assert len(seen) == len(set(seen))
    for obj in (*rendering.objects, *rendering.partials):
        for container in _containers(obj):
            assert type(container) in (dict, list)
            if isinstance(container, dict):
                assert all(type(key) is str for key in container)


@pytest.mark.parametrize(
    "value",
    [
        "7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f",
        "7D9A6F52-3C1E-4E0B-8F7A-1A2B3C4D5E6F",
        "7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f",
        "{7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f}",
        "urn:uuid:7d9a6f52-3c1e-4e0b-8f7a-1a2b3c4d5e6f",
    ],
)
def test_names_take_every_spelling_of_a_uuid_as_before(value: str) -> None:
    hex32 = uuid.UUID(value).hex
    assert namespace_name(value) == f"sf-{hex32}"
    assert route_name(value, value, "production") == f"{hex32}{hex32}-production"
