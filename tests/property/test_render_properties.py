"""Properties of render() over Hypothesis-generated payloads."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.render.kube_schemas import check_object
from tests.strategies.payloads import CHECKSUM_KEY, desired_states, rows_of

from starform_core.kube import labels as kl
from starform_core.kube.objects import key_of
from starform_core.payload.build import build_payload
from starform_core.payload.document import DesiredState
from starform_core.payload.rows import ClusterRows
from starform_core.render import parse_route_name, render

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROJECT_SET = {kl.LABEL_WORKSPACE_ID, kl.LABEL_PROJECT_ID, kl.LABEL_MANAGED_BY}


@_SETTINGS
@given(desired_states())
def test_every_object_validates_against_the_official_schemas(payload: DesiredState) -> None:
    for obj in render(payload).objects:
        assert check_object(obj) == [], obj["metadata"]["name"]


@_SETTINGS
@given(desired_states())
def test_identities_are_unique(payload: DesiredState) -> None:
    keys = [key_of(obj) for obj in render(payload).objects]
    assert len(set(keys)) == len(keys)


@_SETTINGS
@given(desired_states())
def test_every_object_carries_its_label_set(payload: DesiredState) -> None:
    services = {s.service_id: (p, s) for p, s in payload.services()}
    for obj in render(payload).objects:
        labels = obj["metadata"]["labels"]
        assert labels[kl.LABEL_MANAGED_BY] == kl.MANAGED_BY_VALUE
        assert obj["metadata"]["annotations"][kl.ANNOTATION_SOURCE] == payload.cluster.cluster_id
        if kl.LABEL_SERVICE_ID in labels:
            project, service = services[labels[kl.LABEL_SERVICE_ID]]
            assert set(kl.LOAD_BEARING_LABELS) | set(kl.OPERATIONAL_LABELS) <= set(labels)
            assert labels[kl.LABEL_ENVIRONMENT] == service.environment
            assert labels[kl.LABEL_PROJECT_ID] == project.project_id
            assert labels[kl.LABEL_SERVICE_TYPE] == service.type.value
            assert labels[kl.LABEL_OBSERVABILITY] == "true"
            spec = obj.get("spec", {})
            template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
            if template is not None:
                assert set(kl.LOAD_BEARING_LABELS) <= set(template["metadata"]["labels"])
        else:
            assert set(labels) >= PROJECT_SET


@_SETTINGS
@given(desired_states())
def test_route_names_parse_back_to_their_tenant_key(payload: DesiredState) -> None:
    for obj in render(payload).objects:
        if obj["kind"] == "HTTPRoute":
            identity = parse_route_name(obj["metadata"]["name"])
            labels = obj["metadata"]["labels"]
            assert identity.project_id == labels[kl.LABEL_PROJECT_ID]
            assert identity.service_id == labels[kl.LABEL_SERVICE_ID]
            assert identity.environment == labels[kl.LABEL_ENVIRONMENT]


def _shuffled(rows: ClusterRows, rng: random.Random) -> ClusterRows:
    changes: dict[str, Any] = {}
    for field in attrs.fields(ClusterRows):
        value = getattr(rows, field.name)
        if isinstance(value, tuple):
            items = list(value)
            rng.shuffle(items)
            changes[field.name] = tuple(items)
    return attrs.evolve(rows, **changes)


@_SETTINGS
@given(desired_states(), st.randoms(use_true_random=False))
def test_rendering_is_deterministic_whatever_the_row_order(payload: DesiredState, rng: random.Random) -> None:
    first = render(payload)
    assert render(payload) == first
    rebuilt = build_payload(_shuffled(rows_of(payload), rng), checksum_key=CHECKSUM_KEY)
    again = render(rebuilt)
    assert json.dumps(again.objects) == json.dumps(first.objects)
    assert again == first


def _secret_strings(payload: DesiredState) -> set[str]:
    values = set()
    for project in payload.projects:
        for group in project.var_groups:
            for _, value in group.entries:
                plain = value.reveal()
                values |= {plain, base64.b64encode(plain.encode()).decode()}
    return values


@_SETTINGS
@given(desired_states())
def test_secret_values_appear_only_in_their_secret(payload: DesiredState) -> None:
    rendering = render(payload)
    secrets = _secret_strings(payload)
    outside = json.dumps(
        [o for o in rendering.objects if o["kind"] != "Secret"]
        + [dict(o, data=None) for o in rendering.objects if o["kind"] == "Secret"]
        + list(rendering.partials)
    )
    text = outside + repr(rendering.warnings) + repr(rendering.drift_policies)
    assert not any(secret in text for secret in secrets)
    groups = {g.var_group_id: g for p in payload.projects for g in p.var_groups}
    for obj in rendering.objects:
        if obj["kind"] == "Secret":
            group = groups[obj["metadata"]["annotations"][kl.ANNOTATION_VAR_GROUP]]
            decoded = {k: base64.b64decode(v).decode() for k, v in obj.get("data", {}).items()}
            assert decoded == {k: v.reveal() for k, v in group.entries}


@_SETTINGS
@given(desired_states())
def test_service_state_rules(payload: DesiredState) -> None:
    """Paused: no HPA, zero replicas or suspended; never deployed: identity and claims only;
    every volume always has its claim; attach order decides envFrom order."""
    rendering = render(payload)
    by_service: dict[str, list[dict[str, Any]]] = {}
    for obj in rendering.objects:
        service_id = obj["metadata"]["labels"].get(kl.LABEL_SERVICE_ID)
        if service_id is not None:
            by_service.setdefault(service_id, []).append(dict(obj))
    for project, service in payload.services():
        objs = by_service[service.service_id]
        kinds = sorted(o["kind"] for o in objs)
        claims = [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
        assert sorted(c["metadata"]["labels"][kl.LABEL_VOLUME_NAME] for c in claims) == sorted(
            v.name for v in service.volumes
        )
        if service.release is None:
            assert set(kinds) <= {"ServiceAccount", "PersistentVolumeClaim"}
            continue
        workloads = [o for o in objs if o["kind"] in {"Deployment", "CronJob"}]
        assert len(workloads) == 1
        (workload,) = workloads
        paused = service.state.value == "paused"
        if workload["kind"] == "CronJob":
            assert workload["spec"]["suspend"] is paused
            template = workload["spec"]["jobTemplate"]["spec"]["template"]
        else:
            template = workload["spec"]["template"]
            if paused:
                assert workload["spec"]["replicas"] == 0
                assert "HorizontalPodAutoscaler" not in kinds
            elif service.autoscaling is not None:
                assert "replicas" not in workload["spec"]
                assert "HorizontalPodAutoscaler" in kinds
        (app,) = template["spec"]["containers"]
        attached = sorted(service.var_groups, key=lambda a: a.attach_order)
        assert [e["secretRef"]["name"] for e in app.get("envFrom", [])] == [
            "vg-" + a.var_group_id.replace("-", "") for a in attached
        ]
        annotations = template["metadata"]["annotations"]
        groups = {g.var_group_id: g for g in project.var_groups}
        for attachment in attached:
            key = kl.ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX + attachment.var_group_id
            assert annotations[key] == groups[attachment.var_group_id].checksum
