"""The contract reads strict JSON, its schema and the model agree, and its errors never quote values."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
from cattrs.errors import ClassValidationError, IterableValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from starform_core.errors import ContractError, StarformError, UnsupportedApiVersionError
from starform_core.payload import example_payload, parse_payload, payload_schema, to_json
from starform_core.payload.codec import from_structure
from starform_core.payload.contract import PAYLOAD_MAX_DEPTH, SCHEMA_FORMATS

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DIGEST = "@sha256:" + "4f" * 32


def _example() -> dict[str, Any]:
    return json.loads(to_json(example_payload()))


def _text() -> str:
    return to_json(example_payload()).decode()


def _refused(body: bytes | str) -> ContractError:
    with pytest.raises(ContractError) as caught:
        parse_payload(body)
    return caught.value


# ---- strict JSON ---------------------------------------------------------------------------


def test_duplicate_keys_are_refused_not_last_wins() -> None:
    body = _text().replace(
        '"apiVersion":"starform.io/v1"', '"apiVersion":"starform.io/v2","apiVersion":"starform.io/v1"'
    )
    error = _refused(body)
    assert (error.pointer, error.reason) == ("/apiVersion", "duplicate key")


def test_a_nested_duplicate_key_is_named_by_its_pointer() -> None:
    body = _text().replace('"region":"fra1"', '"region":"fra1","region":"ams3"')
    assert _refused(body).pointer == "/cluster/region"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_are_refused(literal: str) -> None:
    body = _text().replace('"generation":42', f'"generation":{literal}')
    error = _refused(body)
    assert error.pointer == "/generation"


def test_deep_nesting_is_refused_without_a_recursion_error() -> None:
    assert _refused("[" * 100_000).pointer == ""
    nested = (
        '{"apiVersion":"starform.io/v1","x":'
        + "[" * (PAYLOAD_MAX_DEPTH + 5)
        + "]" * (PAYLOAD_MAX_DEPTH + 5)
        + "}"
    )
    assert "levels deep" in _refused(nested).reason


def test_integers_over_4300_digits_are_refused_anywhere() -> None:
    assert _refused(_text().replace('"generation":42', '"generation":' + "9" * 5000)).pointer == "/generation"
    with pytest.raises(UnsupportedApiVersionError) as caught:
        parse_payload(_text().replace('"starform.io/v1"', '"starform.io/v' + "9" * 5000 + '"', 1))
    assert caught.value.pointer == "/apiVersion"


def test_unpaired_surrogates_are_refused_with_their_pointer() -> None:
    body = _text().replace('"name":"Shop"', '"name":"Sh\\ud800op"')
    error = _refused(body)
    assert error.pointer.endswith("/name")
    assert "surrogate" in error.reason
    secret = _text().replace('"LOG_LEVEL":"info"', '"LOG_LEVEL":"in\\udc00fo"')
    assert _refused(secret).pointer.endswith("/entries/LOG_LEVEL")


def test_text_that_is_not_utf8_or_too_large_is_refused() -> None:
    assert "UTF-8" in _refused(b'{"apiVersion": "\xff"}').reason
    with pytest.raises(ContractError) as caught:
        parse_payload(_text(), max_bytes=100)
    assert "larger than 100 bytes" in caught.value.reason


# ---- the schema and the model agree ----------------------------------------------------------


def _formats() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    for name, check in SCHEMA_FORMATS.items():

        def run(instance: object, check: Callable[[str, Any], object] = check) -> bool:
            if isinstance(instance, str):
                check("value", instance)
            return True

        checker.checks(name, raises=StarformError)(run)
    return checker


SCHEMA = jsonschema.Draft202012Validator(payload_schema(), format_checker=_formats())


def _schema_accepts(data: dict[str, Any]) -> bool:
    return SCHEMA.is_valid(data)


def _model_accepts(data: dict[str, Any]) -> bool:
    try:
        from_structure(copy.deepcopy(data))
    except (ClassValidationError, IterableValidationError, StarformError):
        return False
    return True


def _at(data: dict[str, Any], path: str) -> tuple[Any, str]:
    *parents, last = path.split("/")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, last


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    node, last = _at(data, path)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


SVC = "projects/0/services/0"
CRON = "projects/0/services/2/cron"
AGREEMENT: list[tuple[str, list[Any], list[Any]]] = [
    ("cluster/name", ["fra1-prod-2"], ["fra1\n", "Fra1", "1fra", "a" * 64]),
    ("cluster/region", ["ams3"], ["ams3\n", "ams_3"]),
    ("cluster/storage_class", ["fast.ssd"], ["fast\n", "Fast"]),
    ("cluster/gateway/name", ["gw.x"], ["gw\n", "GW"]),
    ("cluster/gateway/section_name", ["http", None], ["http\n", "HTTP", ""]),
    ("cluster/load_balancer/target/namespace", ["gw", None], ["X Y", "gw\n"]),
    ("cluster/load_balancer/target/kind", ["Service"], ["service", "Service\n", "S" + "x" * 63]),
    ("cluster/load_balancer/target/api_version", ["v1", "apps/v1", "x.io/v1beta1"], ["v1\n", "V1", "apps/"]),
    (
        "cluster/load_balancer/annotation",
        ["example.com/size"],
        ["a/b/c", "x" * 64, "example.com/size\n", "p" * 254 + "/n"],
    ),
    ("cluster/egress_allow/0", ["10.0.0.0/8"], ["169.254.169.254/32", "10.0.0.1/8", "10.0.0.0/8\n"]),
    ("cluster/prune/max_delete_count", [0, 1_000_000], [1_000_001, True, "3"]),
    ("cluster/metrics_namespace", ["monitoring", None], ["monitoring\n"]),
    ("projects/0/name", ["Shop & Co"], ["Shop\n", "", "x" * 254, "tab\there"]),
    ("projects/0/environments/0/name", ["pr-128"], ["pr-128\n", "PR"]),
    ("projects/0/var_groups/0/name", ["shared"], ["shared\n", ""]),
    ("projects/0/var_groups/0/checksum", ["b" * 64], ["b" * 64 + "\n", "B" * 64]),
    (f"{SVC}/name", ["storefront-2"], ["storefront\n", "x" * 33]),
    (f"{SVC}/replicas", [0, 100, None], [True, "3", 101, 1.5]),
    (f"{SVC}/port", [1, 65535], [0, 65536, "8080", True]),
    ("projects/0/services/4/public", [True, False], ["yes", 1, None]),
    (f"{SVC}/hostnames/0", ["pr-128.example.com"], ["pr-128.example.com\n", "EXAMPLE.com"]),
    (f"{SVC}/resources/cpu_request", ["250m", "1e3"], ["100m\n", "1e999999", "0.5n", "0", "8Ei"]),
    (f"{SVC}/resources/memory_request", ["256Mi"], ["256Mi\n", "lots"]),
    (
        f"{SVC}/release/image",
        ["r.example.com:5000/a/b:v1" + DIGEST],
        ["r.example.com:99999/a" + DIGEST, "r.example.com/" + "a" * 5000 + DIGEST, "a" + DIGEST + "\n"],
    ),
    (f"{SVC}/release/command", [["sh", "-c", "echo\nhi"], None], ["ls", [1], ["a"] * 101]),
    (
        "projects/0/services/1/drift/ignore_fields/0",
        ["Deployment:/spec/replicas"],
        ["Deployment:/spec\n", "Deployment:/sp\nec"],
    ),
    (
        f"{CRON}/schedule",
        ["*/5 * * * *", "@daily"],
        ["99 99 99 99 99", "a b c d e", "*/0 * * * *", "5-1 * * * *"],
    ),
    (f"{CRON}/time_zone", ["UTC", "Asia/Tokyo"], ["Mars/Olympus", "UTC\n", "Local"]),
    ("projects/0/services/4/volumes/0/mount_path", ["/var/data"], ["/var/data\n", "/a:b", "relative"]),
    ("projects/0/services/4/volumes/0/size", ["20Gi"], ["20Gi\n", "1e999999"]),
    ("projects/0/services/5/probes/liveness/path", ["/live"], ["/live\n", "live"]),
    ("projects/0/services/3/probes/readiness/grpc_service", ["a.b.C"], ["a.b\n", "a b"]),
]


def _cases(accepted: bool) -> Iterator[tuple[str, Any]]:
    for path, good, bad in AGREEMENT:
        for value in good if accepted else bad:
            yield path, value


@pytest.mark.parametrize(("path", "value"), list(_cases(True)))
def test_schema_and_model_both_accept(path: str, value: Any) -> None:
    data = _example()
    _set(data, path, value)
    assert _schema_accepts(data), "schema"
    assert _model_accepts(data), "model"


@pytest.mark.parametrize(("path", "value"), list(_cases(False)))
def test_schema_and_model_both_refuse(path: str, value: Any) -> None:
    data = _example()
    _set(data, path, value)
    assert not _schema_accepts(data), "schema"
    assert not _model_accepts(data), "model"
    with pytest.raises(ContractError) as caught:
        parse_payload(json.dumps(data))
    assert caught.value.pointer.lstrip("/").startswith(path.rsplit("/", 1)[0])


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def _formats_used(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("format"), str):
            yield node["format"]
        for value in node.values():
            yield from _formats_used(value)
    elif isinstance(node, list):
        for value in node:
            yield from _formats_used(value)


def test_every_schema_pattern_is_anchored_at_both_ends_of_the_string() -> None:
    patterns = list(_patterns(payload_schema()))
    assert len(patterns) > 20
    for pattern in patterns:
        assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), pattern
        assert re.search(pattern, "x\n") is None


def test_every_format_the_schema_names_is_enforced() -> None:
    assert set(_formats_used(payload_schema())) == set(SCHEMA_FORMATS)


# ---- errors never quote a var group value ----------------------------------------------------

_VOCABULARY = _text() + " a var group breaks the contract (values are not shown)"
"""Text an error may hold whatever the values: the document's own keys and values, the wording."""

SECRET_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=8, max_size=40
).filter(lambda v: v.strip() == v and v.strip() and v not in _VOCABULARY)

Shape = Callable[[dict[str, Any], dict[str, str]], None]


def _group(data: dict[str, Any]) -> dict[str, Any]:
    group: dict[str, Any] = data["projects"][0]["var_groups"][0]
    return group


SHAPES: list[tuple[str, Shape]] = [
    (
        "var_groups an object with entries",
        lambda d, e: d["projects"][0].__setitem__("var_groups", {"entries": e}),
    ),
    (
        "a var group with only entries",
        lambda d, e: d["projects"][0]["var_groups"].__setitem__(0, {"entries": e}),
    ),
    (
        "entries a list of pairs",
        lambda d, e: _group(d).__setitem__("entries", [[k, v] for k, v in e.items()]),
    ),
    ("values in lists", lambda d, e: _group(d).__setitem__("entries", {k: [v] for k, v in e.items()})),
    (
        "values in objects",
        lambda d, e: _group(d).__setitem__("entries", {k: {"value": v} for k, v in e.items()}),
    ),
    ("values as keys", lambda d, e: _group(d).__setitem__("entries", {v: k for k, v in e.items()})),
    (
        "a var group that is a value",
        lambda d, e: d["projects"][0]["var_groups"].__setitem__(0, next(iter(e.values()))),
    ),
    (
        "var_groups a list of values",
        lambda d, e: d["projects"][0].__setitem__("var_groups", list(e.values())),
    ),
    ("entries a value", lambda d, e: _group(d).__setitem__("entries", next(iter(e.values())))),
    ("a value as the checksum", lambda d, e: _group(d).__setitem__("checksum", next(iter(e.values())))),
    ("a value as the environment", lambda d, e: _group(d).__setitem__("environment", next(iter(e.values())))),
    ("a value as the id", lambda d, e: _group(d).__setitem__("var_group_id", next(iter(e.values())))),
    ("projects an object", lambda d, e: d.__setitem__("projects", {"var_groups": [{"entries": e}]})),
    ("the project a list", lambda d, e: d["projects"].__setitem__(0, [{"entries": e}])),
    ("entries nested deeper", lambda d, e: _group(d).__setitem__("entries", {"A": {"B": {"C": e}}})),
]


def _assert_no_value(text: str, values: list[str]) -> None:
    for value in values:
        for form in {
            value,
            json.dumps(value)[1:-1],
            repr(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
        }:
            assert form not in text, f"{form!r} leaked"


@FAST
@given(values=st.lists(SECRET_TEXT, min_size=1, max_size=3, unique=True), shape=st.sampled_from(SHAPES))
def test_contract_errors_never_quote_a_var_group_value(values: list[str], shape: tuple[str, Shape]) -> None:
    data = _example()
    entries = {f"KEY_{index}": value for index, value in enumerate(values)}
    shape[1](data, entries)
    try:
        parse_payload(json.dumps(data))
    except ContractError as exc:
        _assert_no_value(f"{exc} {exc.pointer} {exc.reason}", values)
    else:
        # values that happen to be valid variable names make inverted entries a valid payload
        assert shape[0] == "values as keys", shape[0]


@FAST
@given(values=st.lists(SECRET_TEXT, min_size=1, max_size=3, unique=True))
def test_model_errors_inside_a_var_group_never_quote_a_value(values: list[str]) -> None:
    data = _example()
    group = _group(data)
    group["entries"] = {f"KEY_{index}": value for index, value in enumerate(values)}
    data["projects"][0]["var_groups"].append(copy.deepcopy(group))  # a duplicate var group id
    with pytest.raises(ContractError) as caught:
        parse_payload(json.dumps(data))
    _assert_no_value(str(caught.value), values)
