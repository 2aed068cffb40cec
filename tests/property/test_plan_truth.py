"""The plan tells the truth about out-of-band changes, under the controllers' managedFields.

For clusters disturbed as in ``truth_scenarios`` (deletions, modifications and additions by
other managers and by no manager; the HPA, the deployment controller and the PV binder at work):

* every deletion or change of a field Shuttle sets is reported, and reverted under enforce;
* attribution names the manager that did it, or none (a deleted field has no owner, unless it was
  inside an atomic list or map someone replaced);
* additions by other managers are reported (removed under enforce), with their manager;
* nothing else is reported: nothing a controller or an autoscaler owns, no other object.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from tests.property.fieldsets import ATOMIC_MAPS, key_names
from tests.property.truth_scenarios import ABSENT, Addition, Change, Scenario, leaf_value, scenarios

from starform_core.kube.labels import ANNOTATION_DESIRED_HASH
from starform_core.kube.objects import ObjectKey
from starform_core.plan import DriftDetected, FieldChange, Plan, Reason, RemoveFields, Update, plan
from starform_core.quantity import quantities_equal

TRUTH = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_CONTROLLER_FIELDS = (
    "/status",
    "/metadata/annotations/deployment.kubernetes.io~1revision",
    "/metadata/annotations/pv.kubernetes.io~1",
    "/metadata/annotations/volume.",
    "/spec/volumeName",
)


def _holds(desired: Any, live: Any) -> bool:
    """Whether a live value still is what Shuttle set (the oracle's own equivalences)."""
    if live is ABSENT:
        return desired in ({}, [])
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, int | str) and isinstance(live, int | str) and not isinstance(desired, bool):
        if str(desired) == str(live):
            return True
        try:
            return quantities_equal(str(desired), str(live))
        except ValueError:
            return False
    return False


def _empty_scalar(value: Any) -> bool:
    return value is False or value == "" or (value == 0 and not isinstance(value, bool))


def _detectable(scenario: Scenario, change: Change) -> bool:
    desired = leaf_value(scenario.bodies[change.key], change.path)
    live = leaf_value(scenario.cluster.values[change.key], change.path)
    if _holds(desired, live):
        return False
    if change.path == ("metadata", "annotations", ANNOTATION_DESIRED_HASH) and live is ABSENT:
        return scenario.managed  # only managedFields show Shuttle applied it
    if live is ABSENT and _empty_scalar(desired):
        # the server drops false/0/"" from omitempty fields: only a write that took the field
        # from Shuttle's apply (recorded in managedFields) tells a deletion from that
        return scenario.managed and change.manager is not None
    return True


def _through_atomic(body: Any, path: tuple[Any, ...]) -> bool:
    """Whether ``path`` goes through an atomic list or map (replaced whole by an Update)."""
    node = body
    for depth, segment in enumerate(path[:-1]):
        node = node[segment]
        name = str(segment)
        if isinstance(node, list) and key_names(name, node) is None:
            return True
        if name in ATOMIC_MAPS and depth < len(path) - 1:
            return True
    return False


def _expected_manager(scenario: Scenario, change: Change) -> str | None:
    if not scenario.managed or change.manager is None:
        return None
    if change.verb == "modify" or _through_atomic(scenario.bodies[change.key], change.path):
        return change.manager
    if leaf_value(scenario.cluster.values[change.key], change.path) is not ABSENT:
        return change.manager  # the server defaulted the deleted field: the deleter's write set it
    return None


def _related(path: str, pointer: str) -> bool:
    return path == pointer or pointer.startswith(path + "/") or path.startswith(pointer + "/")


def _reported(result: Plan, key: ObjectKey) -> list[FieldChange]:
    return [
        change
        for action in result.actions
        if action.key == key and isinstance(action, Update | DriftDetected | RemoveFields)
        for change in action.changes
    ]


def _check_change(scenario: Scenario, result: Plan, change: Change) -> None:
    actions = [a for a in result.actions if a.key == change.key]
    if change.path == ("metadata", "annotations", ANNOTATION_DESIRED_HASH) and change.verb == "modify":
        assert any(isinstance(a, Update | DriftDetected) for a in actions), (change, actions)
        return
    found = [c for c in _reported(result, change.key) if _related(c.path, change.pointer)]
    assert found, (change, actions)
    want = _expected_manager(scenario, change)
    assert any(c.manager == want for c in found), (change, want, found)
    kind = Update if scenario.enforced(change.key) else DriftDetected
    assert any(isinstance(a, kind) and a.reason is Reason.DRIFTED for a in actions), (change, actions)


def _check_addition(scenario: Scenario, result: Plan, added: Addition) -> None:
    actions = [a for a in result.actions if a.key == added.key]
    if not scenario.managed:
        return  # without managedFields an addition cannot be told from a server default
    if scenario.enforced(added.key):
        removal = [a for a in actions if isinstance(a, RemoveFields)]
        assert removal and any(_related(p, added.pointer) for p in removal[0].paths), (added, actions)
    found = [c for c in _reported(result, added.key) if _related(c.path, added.pointer)]
    assert found and all(c.manager == added.manager for c in found), (added, found)


def _check_nothing_else(scenario: Scenario, result: Plan, changes: list[Change]) -> None:
    pointers: dict[ObjectKey, list[str]] = {}
    for change in changes:
        pointers.setdefault(change.key, []).append(change.pointer)
    if scenario.managed:
        for added in scenario.additions:
            pointers.setdefault(added.key, []).append(added.pointer)
    assert {a.key for a in result.actions} <= set(pointers), (pointers, result.actions)
    tampered = {c.key for c in changes if c.path == ("metadata", "annotations", ANNOTATION_DESIRED_HASH)}
    for action in result.actions:
        if action.reason is Reason.DESIRED_CHANGED:
            # a tampered hash reads as a changed desire: the re-apply lists every field it sets
            assert action.key in tampered, action
            continue
        paths = [c.path for c in getattr(action, "changes", ())] + list(getattr(action, "paths", ()))
        for path in paths:
            assert not any(path.startswith(field) for field in _CONTROLLER_FIELDS), (action, path)
            assert any(_related(path, pointer) for pointer in pointers[action.key]), (action, path, pointers)


@TRUTH
@given(scenario=scenarios())
def test_every_out_of_band_change_is_reported_with_who_did_it_and_nothing_else(scenario: Scenario) -> None:
    result = plan(scenario.desired, scenario.cluster.live(), options=scenario.options)
    changes = [c for c in scenario.changes if _detectable(scenario, c)]
    for change in changes:
        _check_change(scenario, result, change)
    for added in scenario.additions:
        _check_addition(scenario, result, added)
    _check_nothing_else(scenario, result, changes)


@TRUTH
@given(scenario=scenarios())
def test_under_enforce_every_reported_change_is_reverted(scenario: Scenario) -> None:
    cluster = scenario.cluster
    cluster.execute(plan(scenario.desired, cluster.live(), options=scenario.options))
    again = plan(scenario.desired, cluster.live(), options=scenario.options)
    enforced = {key for key in scenario.bodies if scenario.enforced(key)}
    assert not [a for a in again.executable if a.key in enforced], again.actions
    for change in scenario.changes:
        if change.key in enforced and _detectable(scenario, change):
            desired = leaf_value(scenario.bodies[change.key], change.path)
            assert _holds(desired, leaf_value(cluster.values[change.key], change.path)), change
    for added in scenario.additions:
        if added.key in enforced and scenario.managed:
            tokens = [t.replace("~1", "/").replace("~0", "~") for t in added.pointer.split("/")[1:]]
            path = tuple(int(t) if t.isdigit() else t for t in tokens)
            value = leaf_value(cluster.values[added.key], path)
            assert value is ABSENT or (path[-2] == "env" and value.get("name") != "EXTRA"), added
