"""The fast renderer renders exactly what the renderer rendered before it was made fast.

Two pins, both written before the optimisation (issue 14):

* golden digests of deterministic large payloads, computed with the renderer as it was: they pin
  every byte, every type and the order of the objects end to end;
* golden digests of 57 Hypothesis payloads (drawn with ``@seed(14)``, stored in
  ``render_corpus.jsonl.gz`` as payload structures), computed with the renderer as it was;
* a frozen copy of the old orchestration (deep copy into plain JSON, sort through
  :class:`~starform_core.kube.objects.ObjectKey`), compared on the example payload and on fresh
  Hypothesis payloads. The object renderers it calls take scopes now (``render/scopes.py``); it
  builds them the way the old one built its ``ServiceScope``, from the whole payload.

A deliberate change of what the renderer produces updates the digests here (print them with
``digest(render(...))``; the corpus keeps its payloads and rewrites its digests) and says so in
its commit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.render.large_payloads import large_payload, with_new_release, with_new_var_value
from tests.strategies.payloads import desired_states

from starform_core.kube import labels as kl
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.ordering import APPLY_RANK, UNKNOWN_RANK, delete_order, sort_for_apply
from starform_core.model.cluster import ClusterSettings
from starform_core.model.enums import RunState, ServiceType
from starform_core.model.project import Environment, Project
from starform_core.model.workload import DriftPolicy
from starform_core.payload.codec import from_structure
from starform_core.payload.document import DesiredState
from starform_core.payload.example import example_payload
from starform_core.render import Rendering, render
from starform_core.render.autoscaling import horizontal_pod_autoscaler
from starform_core.render.expose import http_route, is_routed, kube_service, needs_service
from starform_core.render.loadbalancer import size_unit_partial
from starform_core.render.namespace import limit_range, namespace, resource_quota
from starform_core.render.naming import allocate_service_names, namespace_name, route_name
from starform_core.render.network import default_deny, environment_policy, gateway_ingress_policy
from starform_core.render.scopes import (
    ProjectIdentity,
    ServiceScope,
    attachable,
    namespace_scope,
    secret_scope,
    service_cluster,
    service_scope,
)
from starform_core.render.storage import persistent_volume_claim
from starform_core.render.vars import var_conflicts, var_group_secret
from starform_core.render.workloads import cronjob, deployment, service_account

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def digest(rendering: Rendering) -> str:
    """SHA-256 of the rendering's ``repr``: values, container and leaf types, key order, order."""
    policies = [(sid, _Legacy(policy)) for sid, policy in sorted(rendering.drift_policies.items())]
    text = repr((rendering.objects, rendering.partials, rendering.warnings, policies))
    return hashlib.sha256(text.encode()).hexdigest()


class _Legacy:
    """A policy whose ``repr`` reads as before ``revert`` existed (when it lists nothing), so the
    golden digests still pin the same renderings."""

    def __init__(self, policy: DriftPolicy) -> None:
        self.policy = policy

    def __repr__(self) -> str:
        policy = self.policy
        if policy.revert:
            return repr(policy)
        return f"DriftPolicy(mode={policy.mode!r}, ignore_fields={policy.ignore_fields!r})"


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
    identity = ProjectIdentity.of(project)
    scope = namespace_scope(cluster, project, identity)
    yield namespace(scope)
    yield resource_quota(scope)
    yield limit_range(scope)
    yield default_deny(scope)
    for env in project.environments:
        yield environment_policy(scope, env.name)
    for group in project.var_groups:
        yield var_group_secret(secret_scope(cluster, identity, group))


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
            scope = service_scope(
                service_cluster(cluster),
                ProjectIdentity.of(project),
                service,
                ephemeral=project.environment(service.environment).is_ephemeral,
                names=names[service.service_id],
                groups=attachable(project),
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
    old = old_render(payload)
    keys = [key_of(obj) for obj in old.objects]
    # The one deliberate change: the old renderer gave a routed service called "env" or "default"
    # a gateway NetworkPolicy with the name of a namespace policy (two objects, one identity).
    assume(len(set(keys)) == len(keys))
    new = render(payload)
    assert new == old
    assert digest(new) == digest(old)


def _routed(name: str, environment: str) -> DesiredState:
    payload = example_payload()
    (shop,) = [p for p in payload.projects if p.name == "Shop"]
    (storefront,) = [s for s in shop.services if s.name == "storefront" and s.environment == "production"]
    renamed = attrs.evolve(storefront, name=name)
    if environment not in {env.name for env in shop.environments}:
        shop = attrs.evolve(shop, environments=(*shop.environments, Environment(name=environment)))
    tenant = attrs.evolve(renamed.tenant, environment=environment)
    renamed = attrs.evolve(renamed, tenant=tenant, var_groups=())  # its groups are production's
    services = tuple(renamed if s is storefront else s for s in shop.services)
    others = tuple(p for p in payload.projects if p.project_id != shop.project_id)
    return attrs.evolve(payload, projects=(attrs.evolve(shop, services=services), *others))


@pytest.mark.parametrize(("name", "environment"), [("env", "production"), ("default", "deny")])
def test_a_gateway_policy_never_takes_a_namespace_policy_name(name: str, environment: str) -> None:
    payload = _routed(name, environment)
    (shop_id,) = [p.project_id for p in payload.projects if p.name == "Shop"]
    rendering = render(payload)
    keys = [key_of(obj) for obj in rendering.objects]
    assert len(set(keys)) == len(keys)
    policies = {
        obj["metadata"]["name"]: obj
        for obj in rendering.objects
        if obj["kind"] == "NetworkPolicy" and obj["metadata"]["namespace"] == namespace_name(shop_id)
    }
    base = f"{name}-{environment}"
    (gateway,) = [p for n, p in policies.items() if n.startswith(f"{base}-")]
    assert re.fullmatch(rf"{base}-[0-9a-f]{{8}}", gateway["metadata"]["name"])
    assert gateway["spec"]["policyTypes"] == ["Ingress"]
    assert policies[base]["spec"]["policyTypes"] == ["Ingress", "Egress"]  # the namespace's own
    service_id = gateway["metadata"]["labels"][kl.LABEL_SERVICE_ID]
    names = {
        obj["kind"]: obj["metadata"]["name"]
        for obj in rendering.objects
        if obj["metadata"]["labels"].get(kl.LABEL_SERVICE_ID) == service_id
    }
    assert names["Deployment"] == names["Service"] == names["ServiceAccount"] == base  # only the policy moves


_heads = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["v1", "apps/v1", "networking.k8s.io/v1", "a/b/v1", "", "x/"]),
        "kind": st.sampled_from(["Namespace", "Secret", "Deployment", "Service", "Widget", ""]),
        "metadata": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "namespace": st.none() | st.sampled_from(["", "a", "b", "a-b"]),
                "name": st.sampled_from(["", "a", "b", "a-b", "a0", "A"]),
            },
        ),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_heads, max_size=12))
def test_apply_and_delete_order_are_the_object_key_order(objects: list[dict[str, Any]]) -> None:
    old = sorted(objects, key=lambda obj: _old_sort_key(key_of(obj)))
    assert sort_for_apply(objects) == old
    assert [id(o) for o in sort_for_apply(objects)] == [id(o) for o in old]  # stable alike
    keys = [key_of(obj) for obj in objects]
    assert delete_order(keys) == sorted(keys, key=_old_sort_key, reverse=True)


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
