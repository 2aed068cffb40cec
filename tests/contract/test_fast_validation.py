"""The fast path rejects exactly what the schema rejects, and the errors stay the reference's.

Differential tests: the compiled validator (``jsonschema-rs``) against the reference
(``jsonschema``) on mutations of valid payloads, edits of single values next to every rule's
boundary, random JSON documents and strings aimed at every pattern of the schema; and the strict
JSON reader's fast path against its full tree walk on texts full of what it must refuse.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import jsonschema
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.strategies.json_trees import JSON_VALUES, Path, mutated, parent_of, paths
from tests.strategies.payloads import desired_states

from starform_core import strict_json
from starform_core.errors import ContractError
from starform_core.payload import contract, example_payload, parse_payload, to_json
from starform_core.payload.contract import PAYLOAD_MAX_DEPTH, validate_structure
from starform_core.payload.schema_validators import (
    SCHEMA_FORMATS,
    compiled_accepts,
    payload_schema,
    reference_validator,
)
from starform_core.strict_json import check_tree, loads

DIFFERENTIAL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Outcome = tuple[str, str, str] | None


@functools.cache
def _example_text() -> str:
    return to_json(example_payload()).decode()


def _example() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_example_text())
    return result


def _is_strict_json(data: Any) -> bool:
    try:
        check_tree(data, max_depth=PAYLOAD_MAX_DEPTH)
    except ContractError:
        return False
    return True


def _outcome(data: Any) -> Outcome:
    try:
        validate_structure(data)
    except ContractError as exc:
        return (type(exc).__name__, exc.pointer, exc.reason)
    return None


def _reference_outcome(data: Any) -> Outcome:
    """What ``validate_structure`` answered before the fast path: the reference alone."""
    with mock.patch.object(contract, "compiled_accepts", return_value=False):
        return _outcome(data)


def _assert_agree(data: Any) -> None:
    """The compiled verdict is the reference's, and so is the error ``validate_structure`` raises."""
    reference = reference_validator().is_valid(data)
    fast = compiled_accepts(data)
    assert not fast or reference, "the fast path accepted a document the schema rejects"
    if _is_strict_json(data):
        assert fast == reference, "the fast path rejected a document the schema accepts"
    assert _outcome(data) == _reference_outcome(data)


# ---- whole documents -----------------------------------------------------------------------


def test_the_valid_example_is_accepted_by_both_validators() -> None:
    data = _example()
    assert reference_validator().is_valid(data)
    assert compiled_accepts(data)
    assert _outcome(data) is None


@DIFFERENTIAL
@given(data=st.data())
def test_mutations_of_the_example_get_the_reference_verdict(data: st.DataObject) -> None:
    _assert_agree(mutated(data, _example()))


@DIFFERENTIAL
@given(document=desired_states(), data=st.data())
def test_mutations_of_generated_payloads_get_the_reference_verdict(
    document: Any, data: st.DataObject
) -> None:
    valid = json.loads(to_json(document))
    _assert_agree(valid)
    _assert_agree(mutated(data, valid))


def _near(value: Any) -> st.SearchStrategy[Any]:
    """Values next to ``value``: where a pattern's end, a bound or a type rule is decided."""
    if isinstance(value, bool):
        return st.sampled_from([not value, int(value), None, str(value).lower()])
    if isinstance(value, int):
        return st.sampled_from(
            [
                value - 1,
                value + 1,
                float(value),
                -value,
                0,
                2**31,
                2**53,
                2**63,
                -(2**63) - 1,
                str(value),
                True,
            ]
        ) | st.integers(min_value=-(2**64) + 1, max_value=2**64 - 1)
    if isinstance(value, str):
        edits = [value + "\n", value + "\r\n", "\n" + value, value + "\u2028", value + "\x85", value + "\x00"]
        edits += [value.upper(), value[:-1], value + value, value + " ", "", value + "\ufeff", value + "ǅ"]
        return st.sampled_from(edits) | st.text(max_size=3).map(lambda tail: value + tail)
    if value is None:
        return st.sampled_from(["", 0, False, {}, [], "null"])
    if isinstance(value, float):
        return st.sampled_from([int(value), value + 0.5, str(value)])
    return JSON_VALUES


@DIFFERENTIAL
@given(data=st.data())
def test_edits_of_single_values_get_the_reference_verdict(data: st.DataObject) -> None:
    tree = _example()
    leaves = [p for p in paths(tree) if p and not isinstance(parent_of(tree, p)[p[-1]], dict | list)]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="edits")):
        path = data.draw(st.sampled_from(leaves), label="path")
        parent = parent_of(tree, path)
        parent[path[-1]] = data.draw(_near(parent[path[-1]]), label="value")
    _assert_agree(tree)


def _expand(root: dict[str, Any], node: Any) -> Iterator[dict[str, Any]]:
    """``node`` and every subschema that applies at the same place ($ref, combinators, then)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, dict):
            continue
        yield current
        if "$ref" in current:
            stack.append(root["$defs"][current["$ref"].removeprefix("#/$defs/")])
        for combinator in ("oneOf", "anyOf", "allOf"):
            stack.extend(current.get(combinator, ()))
        stack.extend(current[key] for key in ("then", "not") if key in current)


def _rules_at(path: Path) -> list[dict[str, Any]]:
    """Every subschema the value at ``path`` of a payload is checked against."""
    root = payload_schema()
    level = list(_expand(root, root))
    for segment in path:
        below: list[Any] = []
        for node in level:
            if isinstance(segment, int):
                below.extend([node["items"]] if "items" in node else [])
            elif segment in node.get("properties", {}):
                below.append(node["properties"][segment])
            elif isinstance(node.get("additionalProperties"), dict):
                below.append(node["additionalProperties"])
        level = [rule for child in below for rule in _expand(root, child)]
    return level


def _around(rules: list[dict[str, Any]], *names: str) -> set[int]:
    return {
        bound + step
        for rule in rules
        for name in names
        if isinstance(bound := rule.get(name), int)
        for step in (-1, 0, 1)
    }


def _boundary_edits(value: Any, rules: list[dict[str, Any]]) -> list[Any]:
    """Deterministic edits of one value at each edge of the rules that apply to it."""
    if isinstance(value, bool):
        return [not value, int(value), None, "true"]
    if isinstance(value, int):
        bounds = _around(rules, "minimum", "maximum")
        return [*sorted(bounds), value + 1, value - 1, float(value), str(value), True, None]
    if isinstance(value, str):
        pad = value[-1:] or "a"
        lengths = sorted(n for n in _around(rules, "minLength", "maxLength") if n >= 0)
        sized = [(value + pad * n)[:n] for n in lengths]
        enums = [member for rule in rules for member in rule.get("enum", ())]
        edits = [value + "\n", "\n" + value, value + "\r", value + "\u2028", value.upper(), value + "é"]
        return [*sized, *enums, *edits, "", value + " ", value[:-1], 7, None]
    return ["", 0, False, {}, [], "null"] if value is None else [str(value), None]


def _locations(tree: Any) -> dict[tuple[Any, ...], Path]:
    """One leaf path for each schema location and JSON type (list indices generalised)."""
    found: dict[tuple[Any, ...], Path] = {}
    for path in paths(tree):
        value = parent_of(tree, path)[path[-1]] if path else tree
        if path and not isinstance(value, dict | list):
            shape = tuple("*" if isinstance(part, int) else part for part in path)
            found.setdefault((shape, type(value)), path)
    return found


def test_every_rule_edge_of_every_value_gets_the_reference_verdict() -> None:
    example = _example()
    checked = 0
    for path in _locations(example).values():
        rules = _rules_at(path)
        original = parent_of(example, path)[path[-1]]
        for edit in _boundary_edits(original, rules):
            parent_of(example, path)[path[-1]] = edit
            verdict = reference_validator().is_valid(example)
            assert compiled_accepts(example) == verdict, (path, edit)
            checked += 1
        parent_of(example, path)[path[-1]] = original
    assert checked > 800


def test_every_key_rule_edge_gets_the_reference_verdict() -> None:
    example = _example()
    entries = example["projects"][0]["var_groups"][0]["entries"]
    key = next(iter(entries))
    for edit in [
        key + "\n",
        "1" + key,
        key + "-",
        key.lower(),
        "",
        key + "é",
        (key * 60)[:253],
        (key * 60)[:254],
    ]:
        entries[edit] = entries.pop(key)
        assert compiled_accepts(example) == reference_validator().is_valid(example), edit
        key = edit


@DIFFERENTIAL
@given(
    document=st.fixed_dictionaries(
        {"apiVersion": st.just("starform.io/v1")},
        optional={
            "kind": st.just("DesiredState") | JSON_VALUES,
            "generation": st.integers(min_value=-2, max_value=2**53 + 2) | JSON_VALUES,
            "cluster": st.just(_example()["cluster"]) | JSON_VALUES,
            "projects": st.lists(st.just(_example()["projects"][0]) | JSON_VALUES, max_size=2),
        },
    )
)
def test_random_documents_get_the_reference_verdict(document: dict[str, Any]) -> None:
    _assert_agree(document)


@DIFFERENTIAL
@given(document=JSON_VALUES)
def test_random_json_values_get_the_reference_verdict(document: Any) -> None:
    _assert_agree(document)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ("projects/0/services/2/cron/schedule", "99 99 99 99 99"),
        ("projects/0/services/2/cron/time_zone", "Mars/Olympus"),
        ("projects/0/services/0/resources/cpu_request", "8Ei"),
        ("cluster/egress_allow/0", "169.254.169.254/32"),
        ("cluster/load_balancer/annotation", "a/b/c"),
        ("projects/0/services/0/release/image", "a" * 256 + "@sha256:" + "4f" * 32),
    ],
)
def test_every_named_format_is_enforced_by_both_validators(path: str, bad: str) -> None:
    data = _example()
    *parents, last = path.split("/")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = bad
    else:
        node[last] = bad
    assert not reference_validator().is_valid(data)
    assert not compiled_accepts(data)
    outcome = _outcome(data)
    assert outcome == _reference_outcome(data)
    assert outcome is not None and outcome[1] == "/" + path


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _schema_nodes(child)
    elif isinstance(node, list):
        for child in node:
            yield from _schema_nodes(child)


def test_every_format_the_schema_names_has_a_check() -> None:
    named = {
        node["format"] for node in _schema_nodes(payload_schema()) if isinstance(node.get("format"), str)
    }
    assert named == set(SCHEMA_FORMATS)


@pytest.mark.parametrize(
    "data",
    [
        {"apiVersion": "starform.io/v1", "projects": (1, 2)},
        {"apiVersion": "starform.io/v1", 1: 2},
        {"apiVersion": "starform.io/v1", "kind": float("nan")},
        {"apiVersion": "starform.io/v1", "kind": "\ud800"},
        {"apiVersion": "starform.io/v1", "generation": 2**80},
    ],
)
def test_data_the_compiled_validator_cannot_take_goes_to_the_reference(data: dict[Any, Any]) -> None:
    assert not compiled_accepts(data)
    assert _outcome(data) == _reference_outcome(data)


# ---- every pattern, string by string ---------------------------------------------------------

_END = "$(?!\\n)"


def _patterns() -> list[str]:
    return sorted({node["pattern"] for node in _schema_nodes(payload_schema()) if "pattern" in node})


def _matching(pattern: str) -> st.SearchStrategy[str]:
    body = pattern.removeprefix("^").removesuffix(_END)
    return st.from_regex(re.compile(body), fullmatch=True)


_ODD = st.sampled_from(
    ["\n", "\r", "\u2028", "\x85", "\x00", "\x7f", "\x9f", "\xa0", "é", "ǅ", "🙂", "ﬀ", "K"]
)


@functools.cache
def _compiled_pattern(pattern: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator(
        {"type": "string", "pattern": pattern}, pattern_options=jsonschema_rs.FancyRegexOptions()
    )


@pytest.mark.parametrize("pattern", _patterns())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_pattern_means_the_same_in_both_regex_dialects(pattern: str, data: st.DataObject) -> None:
    base = data.draw(_matching(pattern) | st.text(max_size=8), label="base")
    at = data.draw(st.integers(min_value=0, max_value=len(base)), label="at")
    insert = data.draw(st.just("") | _ODD | st.text(max_size=2), label="insert")
    text = base[:at] + insert + base[at:]
    reference = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern}).is_valid(text)
    assert _compiled_pattern(pattern).is_valid(text) == reference


def test_a_final_newline_passes_neither_dialect() -> None:
    for pattern in _patterns():
        compiled = _compiled_pattern(pattern)
        for sample in ("a", "a.b", "v1", "A", "_x", "/x", "10.0.0.0/8", "1Gi", "0" * 64):
            assert not compiled.is_valid(sample + "\n")
            assert not jsonschema.Draft202012Validator({"pattern": pattern}).is_valid(sample + "\n")


# ---- the strict JSON reader: fast path == full walk ------------------------------------------

_LITERALS = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e400",
        "1.5",
        "0",
        "-0.0",
        "9" * 19,
        "-" + "9" * 19,
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-18446744073709551616",
        "9" * 21,
        "true",
        "null",
        '"\\ud800"',
        '"\\uDC00x"',
        '"\\ud83d\\ude00"',
        '"a\\\\ud800"',
        '"\\u00e9"',
        '"plain"',
    ]
)


@st.composite
def _texts(draw: st.DrawFn, depth: int = 0) -> str:
    """JSON texts with duplicate keys, refused literals, surrogate escapes and deep nesting."""
    if depth > 3 or draw(st.booleans()):
        leaf = draw(_LITERALS | st.text(max_size=4).map(json.dumps))
        wrap = draw(
            st.sampled_from([0, 0, 0, PAYLOAD_MAX_DEPTH - 2, PAYLOAD_MAX_DEPTH - 1, PAYLOAD_MAX_DEPTH])
        )
        return "[" * wrap + leaf + "]" * wrap
    if draw(st.booleans()):
        return "[" + ",".join(draw(st.lists(_texts(depth + 1), max_size=3))) + "]"
    keys = draw(st.lists(st.sampled_from(["a", "b", "\\ud800", "é", "\\u0061"]), max_size=3))
    members = [json.dumps(key).replace("\\\\", "\\") + ":" + draw(_texts(depth + 1)) for key in keys]
    return "{" + ",".join(members) + "}"


def _read(body: bytes | str) -> tuple[str, str] | Any:
    try:
        return loads(body, max_bytes=1 << 20, max_depth=PAYLOAD_MAX_DEPTH)
    except ContractError as exc:
        return (exc.pointer, exc.reason)


def _read_fully(body: bytes | str) -> tuple[str, str] | Any:
    """What :func:`loads` answered before the fast path: every tree walked."""
    with mock.patch.object(strict_json, "_needs_full_check", return_value=True):
        return _read(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_texts(), prefix=st.sampled_from(["", "\ud800", "é"]))
def test_the_strict_reader_refuses_exactly_what_its_full_walk_refuses(text: str, prefix: str) -> None:
    as_string = text if not prefix else f'{{"{prefix}":{text}}}'
    assert _read(as_string) == _read_fully(as_string)
    assume("\ud800" not in as_string)
    assert _read(as_string.encode()) == _read_fully(as_string.encode())


@pytest.mark.parametrize(("depth", "refused"), [(PAYLOAD_MAX_DEPTH, False), (PAYLOAD_MAX_DEPTH + 1, True)])
def test_the_depth_limit_is_exact(depth: int, refused: bool) -> None:
    for shape in ("[" * depth + "]" * depth, '{"a":' * (depth - 1) + "[]" + "}" * (depth - 1)):
        result = _read(shape)
        assert isinstance(result, tuple) == refused
        assert result == _read_fully(shape)


def test_a_raw_surrogate_in_text_given_as_a_string_is_refused() -> None:
    body = _example_text().replace('"name":"Shop"', '"name":"Sh\ud800op"')
    with pytest.raises(ContractError) as caught:
        parse_payload(body)
    assert caught.value.pointer.endswith("/name")
    assert "surrogate" in caught.value.reason


def test_a_valid_surrogate_pair_escape_reads_as_its_character() -> None:
    body = _example_text().replace('"name":"Shop"', '"name":"Sh\\ud83d\\ude00op"')
    assert parse_payload(body).projects[0].name == "Sh\U0001f600op"
