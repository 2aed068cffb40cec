"""The one-walk live-object check decides exactly what the rules taken one by one decide.

``live_object_passes`` (one walk of the object, every rule followed alongside) must accept an
object exactly when ``explain_live_object`` (check_tree, then each rule path, then the merge keys:
the reference) finds no problem, for objects as the API serves them and for every kind of damage
(random edits anywhere, and wrong-typed values put at the very paths the rules read).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from tests.strategies.applied import applied_objects
from tests.strategies.json_trees import mutated

from starform_core.kube.validate_live import explain_live_object, live_object_passes
from starform_core.payload import example_payload

DIFFERENTIAL = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_WRONG: list[Any] = [None, 1, -1, 1.5, True, "x", "", [], [1], {}, {"a": 1}, [{"a": {}}], float("nan"), 2**70]


@functools.cache
def _applied() -> tuple[dict[str, Any], ...]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "shop",
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "w", "uid": "u", "apiVersion": "apps/v1", "controller": True}
            ],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        },
    }
    return (*applied_objects(example_payload()), pod)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*path, index)))
    return found


def _agree(obj: Any) -> None:
    if not isinstance(obj, dict):  # refused before either check runs
        event("not an object")
        return
    verdict = live_object_passes(obj)
    reference = explain_live_object(obj)
    assert verdict == (reference is None), reference
    event("accepted" if verdict else "refused")


@DIFFERENTIAL
@given(data=st.data())
def test_random_damage_gets_the_reference_verdict(data: st.DataObject) -> None:
    obj = copy.deepcopy(data.draw(st.sampled_from(_applied()), label="object"))
    _agree(mutated(data, obj))


@DIFFERENTIAL
@given(data=st.data())
def test_a_wrong_value_at_any_path_gets_the_reference_verdict(data: st.DataObject) -> None:
    obj = copy.deepcopy(data.draw(st.sampled_from(_applied()), label="object"))
    for _ in range(data.draw(st.integers(1, 2), label="edits")):
        paths = [p for p in _paths(obj) if p]
        path = data.draw(st.sampled_from(paths), label="path")
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans(), label="delete") and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(_WRONG), label="value"))
    _agree(obj)


def test_objects_as_served_pass_both_ways() -> None:
    for obj in _applied():
        assert live_object_passes(obj) and explain_live_object(obj) is None
