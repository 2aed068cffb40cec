"""parse_payload reuses the projects and services of the last payload parsed when their JSON is
unchanged; what it returns is always what a parse reusing nothing returns, and rules above a
reused value still run."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import rfc8785

from starform_core.errors import ContractError, ValidationError
from starform_core.payload import example_payload, parse_payload, to_json
from starform_core.payload.codec import from_structure
from starform_core.payload.document import DesiredState
from starform_core.payload.reuse import PayloadReuse
from starform_core.validation import check_image_reference, remembered

REUSE = PayloadReuse()


@pytest.fixture(autouse=True)
def _nothing_remembered() -> Iterator[None]:
    REUSE.forget()
    yield
    REUSE.forget()


def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(to_json(example_payload()))
    return data


def _services(document: DesiredState) -> dict[str, Any]:
    return {service.service_id: service for _, service in document.services()}


def _cold(body: bytes) -> DesiredState:
    return parse_payload(body)


def _parse(body: bytes) -> DesiredState:
    return parse_payload(body, reuse=REUSE)


def test_unchanged_services_are_reused_and_a_changed_one_is_built_afresh() -> None:
    data = _data()
    first = _services(_parse(rfc8785.dumps(data)))
    changed = next(s for p in data["projects"] for s in p["services"] if s.get("release"))
    changed["release"]["version"] += 1
    body = rfc8785.dumps(data)
    second = _services(_parse(body))
    assert second.keys() == first.keys()
    reused = {key for key in first if second[key] is first[key]}
    assert reused == set(first) - {changed["service_id"]}
    assert second[changed["service_id"]].release is not None
    assert second[changed["service_id"]].release.version == changed["release"]["version"]
    assert _parse(body) == _cold(body) == from_structure(json.loads(body))


def _projects(document: DesiredState) -> dict[str, Any]:
    return {project.project_id: project for project in document.projects}


def test_an_unchanged_project_is_reused_whole_and_a_changed_one_reuses_its_unchanged_services() -> None:
    data = _data()
    first = _parse(rfc8785.dumps(data))
    project = next(p for p in data["projects"] if len(p["services"]) > 1)
    changed = project["services"][0]
    changed["replicas"] = 3 if changed.get("replicas") != 3 else 2
    body = rfc8785.dumps(data)
    second = _parse(body)
    before, after = _projects(first), _projects(second)
    assert {key for key in before if after[key] is before[key]} == set(before) - {project["project_id"]}
    services_before, services_after = _services(first), _services(second)
    assert {key for key in services_before if services_after[key] is services_before[key]} == set(
        services_before
    ) - {changed["service_id"]}
    assert second == _cold(body)
    # the services of a project reused whole are remembered for the parse after it
    third = _parse(body)
    assert all(_services(third)[key] is services_after[key] for key in services_after)


def test_a_value_of_another_json_type_is_never_taken_for_the_remembered_one() -> None:
    data = _data()
    _parse(rfc8785.dumps(data))
    service = next(s for p in data["projects"] for s in p["services"] if isinstance(s.get("port"), int))
    service["port"] = float(service["port"])  # the schema's "integer" takes 8080.0; the model does not
    body = json.dumps(data).encode()
    with pytest.raises(ContractError) as reused:
        _parse(body)
    with pytest.raises(ContractError) as cold:
        _cold(body)
    assert (reused.value.pointer, reused.value.reason) == (cold.value.pointer, cold.value.reason)
    assert reused.value.reason == "must be an integer"


def test_rules_above_a_service_still_run_when_the_service_is_reused() -> None:
    data = _data()
    _parse(rfc8785.dumps(data))
    project = next(p for p in data["projects"] if len(p["environments"]) > 1 and p["services"])
    environment = project["services"][0]["environment"]
    project["environments"] = [env for env in project["environments"] if env["name"] != environment]
    with pytest.raises(ContractError) as reused:
        _parse(rfc8785.dumps(data))
    with pytest.raises(ContractError) as cold:
        _cold(rfc8785.dumps(data))
    assert (reused.value.pointer, reused.value.reason) == (cold.value.pointer, cold.value.reason)
    assert reused.value.reason == "names no environment of the project"


def test_a_failed_parse_leaves_the_remembered_services_as_they_were() -> None:
    data = _data()
    body = rfc8785.dumps(data)
    first = _services(_parse(body))
    project = next(p for p in data["projects"] if len(p["environments"]) > 1 and p["services"])
    project["environments"] = project["environments"][:1]
    with pytest.raises(ContractError):  # a project rule, found while structuring
        _parse(rfc8785.dumps(data))
    assert len(REUSE) == len(first)
    again = _services(_parse(body))
    assert all(again[key] is first[key] for key in first)


def test_structuring_outside_parse_payload_reuses_nothing() -> None:
    data = _data()
    _parse(rfc8785.dumps(data))
    first = _services(from_structure(json.loads(rfc8785.dumps(data))))
    second = _services(from_structure(json.loads(rfc8785.dumps(data))))
    assert all(second[key] is not first[key] for key in first)


def test_a_remembered_check_names_each_caller_s_field_and_judges_other_types_itself() -> None:
    with pytest.raises(ValidationError) as first:
        check_image_reference("image", "nginx:latest")
    with pytest.raises(ValidationError) as again:
        check_image_reference("spec.image", "nginx:latest")
    assert (first.value.field, again.value.field) == ("image", "spec.image")
    assert first.value.reason == again.value.reason
    calls: list[object] = []

    def check(field: str, value: object) -> None:
        calls.append(value)
        if value != "ok":
            raise ValidationError(field, "must be ok")

    checked = remembered(check)
    checked("a", "ok")
    checked("b", "ok")
    with pytest.raises(ValidationError, match=r"^c: must be ok$"):
        checked("c", 5)
    with pytest.raises(ValidationError, match=r"^c: must be ok$"):
        checked("c", 5)
    assert calls == ["ok", 5, 5]


def test_within_a_parse_equal_small_parts_are_one_value_and_unequal_ones_stay_apart() -> None:
    data = _data()
    services = [s for p in data["projects"] for s in p["services"]]
    first, second = services[0], services[1]
    second["resources"] = dict(first["resources"])
    second["drift"] = copy.deepcopy(first["drift"])
    third = services[2]
    third["resources"] = {**first["resources"], "cpu_request": "250m"}
    body = rfc8785.dumps(data)
    document = _cold(body)
    parsed = _services(document)
    one, two, three = (parsed[s["service_id"]] for s in (first, second, third))
    assert one.resources is two.resources
    assert one.drift is two.drift
    assert three.resources != one.resources
    assert three.resources.cpu_request == "250m"
    assert document == from_structure(json.loads(body))
    plain = _services(from_structure(json.loads(body)))  # outside a parse, nothing is shared
    assert plain[first["service_id"]].resources is not plain[second["service_id"]].resources
