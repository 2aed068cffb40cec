"""Contract tests: the payload's JSON Schema accepts what Starbase builds and rejects bad input."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from tests.strategies.rows import cluster_rows

from starform_core.errors import ContractError, UnsupportedApiVersionError
from starform_core.payload import build_payload, example_payload, parse_payload, payload_schema, to_json
from starform_core.payload.codec import to_structure

KEY = b"contract-test-checksum-key-0001"


def _example() -> dict[str, Any]:
    return json.loads(to_json(example_payload()))


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = payload_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_example_payload_validates_and_uses_every_feature() -> None:
    data = _example()
    jsonschema.Draft202012Validator(payload_schema()).validate(data)
    services = [s for p in data["projects"] for s in p["services"]]
    assert {s["type"] for s in services} == {"web", "worker", "cron"}
    assert len(data["projects"]) >= 2
    assert any(e["is_ephemeral"] for p in data["projects"] for e in p["environments"])
    assert any(s["autoscaling"] for s in services)
    assert any(s["volumes"] for s in services)
    assert any(not s["public"] for s in services)
    assert any(s["hostnames"] for s in services)
    assert any(s["state"] == "paused" for s in services)
    assert {k for s in services for k, v in s["probes"].items() if v} == {"startup", "liveness", "readiness"}
    keys = [set(g["entries"]) for p in data["projects"] for g in p["var_groups"]]
    assert any(a & b for i, a in enumerate(keys) for b in keys[i + 1 :]), "var groups with overlapping keys"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=cluster_rows())
def test_payloads_built_from_any_rows_validate_against_the_schema(rows: Any) -> None:
    document = build_payload(rows, checksum_key=KEY)
    jsonschema.Draft202012Validator(payload_schema()).validate(json.loads(to_json(document)))
    assert parse_payload(to_json(document)) == document


def _service(data: dict[str, Any]) -> dict[str, Any]:
    return data["projects"][0]["services"][0]


Mutation = Callable[[dict[str, Any]], None]
INVALID: list[tuple[str, Mutation, str]] = [
    (
        "missing workspace_id",
        lambda d: _service(d).pop("workspace_id"),
        "/projects/0/services/0/workspace_id",
    ),
    ("missing project_id", lambda d: _service(d).pop("project_id"), "/projects/0/services/0/project_id"),
    ("missing environment", lambda d: _service(d).pop("environment"), "/projects/0/services/0/environment"),
    ("missing service_id", lambda d: _service(d).pop("service_id"), "/projects/0/services/0/service_id"),
    (
        "a customer_id",
        lambda d: _service(d).__setitem__("customer_id", "cus_1"),
        "/projects/0/services/0/customer_id",
    ),
    (
        "environment name of 31 characters",
        lambda d: d["projects"][0]["environments"][0].__setitem__("name", "a" * 31),
        "/projects/0/environments/0/name",
    ),
    (
        "environment name with upper case",
        lambda d: d["projects"][0]["environments"][0].__setitem__("name", "Production"),
        "/projects/0/environments/0/name",
    ),
    (
        "service environment with upper case",
        lambda d: _service(d).__setitem__("environment", "PR-128"),
        "/projects/0/services/0/environment",
    ),
    ("generation as a string", lambda d: d.__setitem__("generation", "42"), "/generation"),
    (
        "replicas as a string",
        lambda d: _service(d).__setitem__("replicas", "2"),
        "/projects/0/services/0/replicas",
    ),
    ("port out of range", lambda d: _service(d).__setitem__("port", 70000), "/projects/0/services/0/port"),
    (
        "unknown service type",
        lambda d: _service(d).__setitem__("type", "lambda"),
        "/projects/0/services/0/type",
    ),
    ("projects not a list", lambda d: d.__setitem__("projects", {}), "/projects"),
    (
        "image not pinned by digest",
        lambda d: _service(d)["release"].__setitem__("image", "nginx:latest"),
        "/projects/0/services/0/release/image",
    ),
    ("wrong kind", lambda d: d.__setitem__("kind", "Deployment"), "/kind"),
    (
        "web service without port",
        lambda d: _service(d).__setitem__("port", None),
        "/projects/0/services/0/port",
    ),
    (
        "autoscaling max below min",
        lambda d: _service(d).__setitem__(
            "autoscaling", {"min_replicas": 3, "max_replicas": 2, "target_cpu_percent": 50}
        ),
        "/projects/0/services/0/autoscaling/max_replicas",
    ),
    (
        "attaches an unknown var group",
        lambda d: _service(d)["var_groups"].append(
            {"attach_order": 99, "var_group_id": "00000000-0000-4000-8000-000000009999"}
        ),
        "/projects/0/services/0/var_groups",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "pointer"), [(m, p) for _, m, p in INVALID], ids=[n for n, _, _ in INVALID]
)
def test_invalid_payloads_are_rejected_with_the_pointer_of_the_problem(
    mutate: Mutation, pointer: str
) -> None:
    data = _example()
    mutate(data)
    with pytest.raises(ContractError) as caught:
        parse_payload(json.dumps(data).encode())
    assert caught.value.pointer == pointer
    assert caught.value.reason


@pytest.mark.parametrize(
    "version", ["starform.io/v2", "starform.io/v0", "starform.io/v10beta1", "other.io/v1"]
)
def test_unknown_api_versions_are_rejected(version: str) -> None:
    data = _example()
    data["apiVersion"] = version
    with pytest.raises(UnsupportedApiVersionError) as caught:
        parse_payload(json.dumps(data))
    assert caught.value.pointer == "/apiVersion"


def test_added_optional_fields_are_tolerated_within_the_major_version() -> None:
    data = _example()
    data["future_top_level"] = {"anything": [1, 2]}
    data["cluster"]["future_setting"] = True
    _service(data)["future_service_field"] = "x"
    data["projects"][0]["environments"][0]["future_env_field"] = 1
    assert parse_payload(json.dumps(data)) == example_payload()


@pytest.mark.parametrize(
    ("body", "pointer"),
    [(b"", ""), (b"{not json", ""), (b"[]", ""), (b'{"kind": "DesiredState"}', "/apiVersion")],
)
def test_non_payloads_are_rejected(body: bytes, pointer: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_payload(body)
    assert caught.value.pointer == pointer


def test_errors_inside_var_group_entries_never_quote_the_value() -> None:
    data = _example()
    data["projects"][0]["var_groups"][0]["entries"]["API_TOKEN"] = 918273645546372819
    with pytest.raises(ContractError) as caught:
        parse_payload(json.dumps(data))
    assert caught.value.pointer.endswith("/entries/API_TOKEN")
    assert "918273645546372819" not in str(caught.value)


def test_structure_is_not_mutated_by_parsing() -> None:
    data = to_structure(example_payload())
    before = copy.deepcopy(data)
    parse_payload(json.dumps(data))
    assert data == before
