"""Fuzz: mutated payloads and live objects through parse_payload, render, plan and health.

Whatever the mutation, only the project's own error types (:class:`StarformError`) ever escape:
a payload is valid or a :class:`ContractError`; a live object is valid or a
:class:`LiveObjectError`; and whatever passes those gates, render, plan and health take.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.strategies.applied import applied_objects
from tests.strategies.json_trees import mutated

from starform_core.errors import ContractError, LiveObjectError, StarformError
from starform_core.health import assess_services
from starform_core.kube.validate_live import validate_live_objects
from starform_core.payload import example_payload, parse_payload, to_json
from starform_core.payload.document import DesiredState
from starform_core.plan import PlanOptions, plan
from starform_core.render import render

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
    body = json.dumps(mutated(data, _example()))
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
    live[index] = mutated(data, live[index])
    try:
        checked = validate_live_objects(live)
    except LiveObjectError:
        event("refused")
        return
    event("accepted")
    _downstream(example_payload(), [dict(obj) for obj in checked])
