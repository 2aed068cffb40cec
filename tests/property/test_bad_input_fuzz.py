"""Fuzz: mutated payloads and live objects through parse_payload, render, plan and health.

Whatever the mutation, only the project's own error types (:class:`StarformError`) ever escape:
a payload is valid or a :class:`ContractError`; a live object is valid or a
:class:`LiveObjectError`; and whatever passes those gates, render, plan and health take.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.strategies.applied import applied_objects

from starform_core.errors import ContractError, LiveObjectError, StarformError
from starform_core.health import assess_services
from starform_core.kube.validate_live import validate_live_objects
from starform_core.payload import example_payload, parse_payload, to_json
from starform_core.payload.document import DesiredState
from starform_core.plan import PlanOptions, plan
from starform_core.render import render

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Path = tuple[str | int, ...]

NASTY_TEXT = [
    "",
    "x\n",
    "\ud800",
    "1e999999",
    "8Ei",
    "99 99 99 99 99",
    "@every 1h",
    "Mars/Olympus",
    "169.254.169.254/32",
    "registry.example.com:99999/a@sha256:" + "4f" * 32,
    "Deployment:/spec\n",
    "k:{bad",
    "../../etc/passwd",
    "a" * 300,
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(NASTY_TEXT),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, path: Path = ()) -> Iterator[Path]:
    yield path
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*path, index))


def _parent(root: Any, path: Path) -> Any:
    node = root
    for part in path[:-1]:
        node = node[part]
    return node


def _mutate(data: st.DataObject, root: Any) -> Any:
    """One random structural mutation of a JSON tree (the root itself may be replaced)."""
    path = data.draw(st.sampled_from(list(_paths(root))), label="path")
    operation = data.draw(
        st.sampled_from(["set", "swap", "swap", "delete", "rename", "duplicate"]), label="op"
    )
    if not path:
        return data.draw(JSON_VALUES) if operation == "set" else root
    parent, last = _parent(root, path), path[-1]
    if operation == "set":
        parent[last] = data.draw(JSON_VALUES, label="value")
    elif operation == "swap":
        # a value from elsewhere in the tree, of the same JSON type: plausible, often still valid
        kind = type(parent[last])
        others = [
            p for p in _paths(root) if p and type(_parent(root, p)[p[-1]]) is kind and p[: len(path)] != path
        ]
        if others:
            source = data.draw(st.sampled_from(others), label="from")
            parent[last] = copy.deepcopy(_parent(root, source)[source[-1]])
    elif operation == "delete":
        del parent[last]
    elif operation == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="key")] = parent.pop(last)
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(int(last), copy.deepcopy(parent[int(last)]))
    return root


def _mutated(data: st.DataObject, root: Any) -> Any:
    tree = copy.deepcopy(root)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="mutations")):
        tree = _mutate(data, tree)
    return tree


@functools.cache
def _example() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(to_json(example_payload()))
    return result


@functools.cache
def _applied() -> tuple[dict[str, Any], ...]:
    return tuple(applied_objects(example_payload()))


def _downstream(document: DesiredState, live: list[dict[str, Any]]) -> None:
    """Render, plan against ``live`` and assess health: only StarformError may escape."""
    try:
        rendering = render(document)
        options = PlanOptions(drift_policies=rendering.drift_policies, prune_policy=document.cluster.prune)
        plan(rendering.objects, live, partials=rendering.partials, options=options)
        assess_services([*rendering.objects, *live])
    except StarformError as exc:
        event(f"downstream {type(exc).__name__}")


@FUZZ
@given(data=st.data())
def test_mutated_payloads_only_ever_raise_contract_errors(data: st.DataObject) -> None:
    body = json.dumps(_mutated(data, _example()))
    try:
        document = parse_payload(body)
    except ContractError:
        event("refused")
        return
    event("accepted")
    _downstream(document, list(copy.deepcopy(_applied())))


@FUZZ
@given(data=st.data())
def test_mutated_payload_bytes_only_ever_raise_contract_errors(data: st.DataObject) -> None:
    body = bytearray(to_json(example_payload()))
    for _ in range(data.draw(st.integers(min_value=1, max_value=6), label="edits")):
        at = data.draw(st.integers(min_value=0, max_value=len(body)), label="at")
        piece = data.draw(
            st.sampled_from(
                [b"[", b"]", b"{", b"}", b'"', b",", b":", b"\\", b"NaN", b"\xff", b"\x00", b"9" * 30, b""]
            ),
            label="piece",
        )
        cut = data.draw(st.integers(min_value=0, max_value=3), label="cut")
        body[at : at + cut] = piece
    try:
        parse_payload(bytes(body))
    except ContractError:
        event("refused")
    else:
        event("accepted")


@FUZZ
@given(data=st.data())
def test_mutated_live_objects_are_refused_or_planned(data: st.DataObject) -> None:
    live = list(copy.deepcopy(_applied()))
    index = data.draw(st.integers(min_value=0, max_value=len(live) - 1), label="object")
    live[index] = _mutated(data, live[index])
    try:
        checked = validate_live_objects(live)
    except LiveObjectError:
        event("refused")
        return
    event("accepted")
    _downstream(example_payload(), [dict(obj) for obj in checked])
