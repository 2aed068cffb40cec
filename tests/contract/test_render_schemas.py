"""Rendered objects validate strictly against the official schemas (Kubernetes 1.37, Gateway API v1.6.1)."""

from __future__ import annotations

import copy

import pytest
from tests.render.kube_schemas import check_object, schema_errors

from starform_core.payload.example import example_payload
from starform_core.render import render

_EXAMPLE = render(example_payload())


@pytest.mark.parametrize(
    "obj",
    _EXAMPLE.objects,
    ids=[f"{o['kind']}/{o['metadata']['name']}" for o in _EXAMPLE.objects],
)
def test_example_object_is_valid(obj: dict[str, object]) -> None:
    assert check_object(obj) == []


def test_example_covers_every_rendered_kind() -> None:
    kinds = {o["kind"] for o in _EXAMPLE.objects}
    assert kinds == {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "ServiceAccount",
        "Secret",
        "PersistentVolumeClaim",
        "Deployment",
        "CronJob",
        "Service",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
    }


def test_validators_are_strict() -> None:
    """Negative controls: the validators do reject unknown fields and wrong types."""
    deployment = copy.deepcopy(next(o for o in _EXAMPLE.objects if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["envfrom"] = []
    assert any("envfrom" in e for e in schema_errors(deployment))
    route = copy.deepcopy(next(o for o in _EXAMPLE.objects if o["kind"] == "HTTPRoute"))
    route["spec"]["rules"][0]["backendRefs"][0]["prot"] = 80
    route["metadata"]["labelz"] = {}
    errors = schema_errors(route)
    assert any("prot" in e for e in errors)
    assert any("labelz" in e for e in errors)
    route = copy.deepcopy(next(o for o in _EXAMPLE.objects if o["kind"] == "HTTPRoute"))
    route["spec"]["hostnames"] = [f"h{i}.example.com" for i in range(17)]
    assert schema_errors(route)
    bad_labels = copy.deepcopy(next(o for o in _EXAMPLE.objects if o["kind"] == "Secret"))
    bad_labels["metadata"]["labels"]["starform.io/environment"] = "x" * 64
    assert check_object(bad_labels)
