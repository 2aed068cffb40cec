"""The payload codec: revealing secrets takes an explicitly named path; structuring is strict."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cattrs.errors import ClassValidationError

from starform_adapters.postgres.repository import jsonable
from starform_core.model import Autoscaling, Probes
from starform_core.payload import (
    example_payload,
    parse_payload,
    to_json,
    to_structure,
    to_structure_with_secrets,
)
from starform_core.payload.codec import converter, from_structure
from starform_core.secrets_values import REDACTED

SECRETS = ("postgres://shop:example-only@db-prod/shop", "sk_test_example_only")


def _groups(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [group for project in data["projects"] for group in project["var_groups"]]


def test_the_default_converter_redacts_every_secret_value() -> None:
    document = example_payload()
    text = json.dumps(converter.unstructure(document))
    assert not any(secret in text for secret in SECRETS)
    group = document.projects[0].var_groups[1]
    assert set(converter.unstructure(group)["entries"].values()) == {REDACTED}
    assert converter.unstructure(group.entries[0][1]) == REDACTED


def test_to_structure_redacts_and_the_explicit_path_reveals() -> None:
    document = example_payload()
    redacted, revealed = to_structure(document), to_structure_with_secrets(document)
    assert {v for g in _groups(redacted) for v in g["entries"].values()} == {REDACTED}
    assert set(SECRETS) <= {v for g in _groups(revealed) for v in g["entries"].values()}
    assert json.loads(to_json(document)) == revealed, "the agent's payload carries the values"
    assert parse_payload(to_json(document)) == document


def test_audit_json_written_through_the_converter_is_redacted() -> None:
    group = example_payload().projects[0].var_groups[1]
    audit = json.dumps(jsonable(group))
    assert not any(secret in audit for secret in SECRETS)
    assert REDACTED in audit


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ({"min_replicas": True, "max_replicas": 3, "target_cpu_percent": 50}, Autoscaling),
        ({"min_replicas": "2", "max_replicas": 3, "target_cpu_percent": 50}, Autoscaling),
        ({"min_replicas": 2.0, "max_replicas": 3, "target_cpu_percent": 50}, Autoscaling),
        ({"liveness": {"kind": "http", "port": "8080", "path": "/"}}, Probes),
        ({"liveness": {"kind": 1, "port": 8080, "path": "/"}}, Probes),
        ({"liveness": {"kind": "tcp", "port": 8080, "period_seconds": True}}, Probes),
    ],
)
def test_structuring_never_coerces(value: dict[str, Any], target: type) -> None:
    with pytest.raises(ClassValidationError):
        converter.structure(value, target)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", True),
        ("replicas", "3"),
        ("port", "8080"),
        ("public", "false"),
        ("name", 5),
        ("hostnames", "pr-128.shop.starform.app"),
        ("type", ["web"]),
    ],
)
def test_from_structure_without_the_schema_is_strict_too(field: str, value: Any) -> None:
    data = json.loads(to_json(example_payload()))
    data["projects"][0]["services"][0][field] = value
    with pytest.raises(ClassValidationError):
        from_structure(data)


def test_structuring_still_reads_what_it_writes() -> None:
    autoscaling = Autoscaling(min_replicas=2, max_replicas=5, target_memory_percent=70)
    assert converter.structure(converter.unstructure(autoscaling), Autoscaling) == autoscaling
    probes = example_payload().projects[0].services[0].probes
    assert converter.structure(converter.unstructure(probes), Probes) == probes
