"""Planning invariants (§6): idempotence under permutation, ownership, ordering, the valve."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.property.plan_scenarios import RELEASED, applied, owned_keys, scenarios
from tests.property.ssa_model import Cluster
from tests.strategies.kube_objects import desired_objects

from starform_core.kube.objects import ObjectKey, key_of
from starform_core.kube.ordering import apply_rank
from starform_core.model.cluster import PrunePolicy
from starform_core.plan import (
    ActionKind,
    Create,
    Delete,
    Held,
    PlanOptions,
    Reason,
    RemoveFields,
    Update,
    plan,
)

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(scenario=scenarios(), data=st.data())
def test_the_plan_does_not_depend_on_input_order(
    scenario: tuple[list[dict[str, Any]], Cluster], data: st.DataObject
) -> None:
    desired, cluster = scenario
    live = cluster.live()
    reference = plan(desired, live, options=RELEASED)
    shuffled = plan(data.draw(st.permutations(desired)), data.draw(st.permutations(live)), options=RELEASED)
    assert shuffled == reference
    assert plan(desired, live, options=RELEASED) == reference


@FAST
@given(scenario=scenarios(), allow_prune=st.booleans())
def test_nothing_unowned_is_ever_touched(
    scenario: tuple[list[dict[str, Any]], Cluster], allow_prune: bool
) -> None:
    desired, cluster = scenario
    live = cluster.live()
    owned = owned_keys(live)
    present = {key_of(obj) for obj in live}
    result = plan(desired, live, options=PlanOptions(allow_prune=allow_prune))
    for action in result.actions:
        if isinstance(action, Update | Delete | RemoveFields):
            assert action.key in owned, action
        if isinstance(action, Create):
            assert action.key not in present, action
        if action.key in present - owned:
            assert action.kind is ActionKind.CONFLICT, action
    if not allow_prune:
        assert not any(isinstance(a, Delete) for a in result.actions)


def _references(body: dict[str, Any]) -> set[ObjectKey]:
    """What a workload, Service, HTTPRoute or HPA needs to exist before it."""
    namespace = body["metadata"].get("namespace", "")
    needs = {ObjectKey("", "Namespace", "", namespace)} if namespace else set()
    spec = body.get("spec") or {}
    pod = (spec.get("jobTemplate") or {}).get("spec", spec).get("template", {}).get("spec", {})
    for volume in pod.get("volumes") or ():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            needs.add(ObjectKey("", "PersistentVolumeClaim", namespace, claim))
    for container in pod.get("containers") or ():
        for source in container.get("envFrom") or ():
            secret = (source.get("secretRef") or {}).get("name")
            if secret:
                needs.add(ObjectKey("", "Secret", namespace, secret))
    name = body["metadata"]["name"]
    if body["kind"] in ("Service", "HorizontalPodAutoscaler", "HTTPRoute"):
        needs.add(ObjectKey("apps", "Deployment", namespace, name))
    if body["kind"] == "HTTPRoute":
        needs.add(ObjectKey("", "Service", namespace, name))
    return needs


@FAST
@given(scenario=scenarios())
def test_nothing_is_applied_before_what_it_depends_on(
    scenario: tuple[list[dict[str, Any]], Cluster],
) -> None:
    desired, cluster = scenario
    result = plan(desired, cluster.live(), options=RELEASED)
    position: dict[ObjectKey, int] = {}
    for index, action in enumerate(result.actions):
        position.setdefault(action.key, index)
    applies = [a for a in result.actions if isinstance(a, Create | Update)]
    for action in applies:
        for need in _references(dict(action.body)):
            if need in position and isinstance(result.actions[position[need]], Create | Update):
                assert position[need] < position[action.key], (need, action.key)
    kinds = [a.kind for a in result.actions]
    deletions = [a for a in result.actions if isinstance(a, Delete | Held)]
    if deletions:
        first_deletion = kinds.index(deletions[0].kind)
        assert all(isinstance(a, Delete | Held) for a in result.actions[first_deletion:])
        ranks = [apply_rank(a.key) for a in deletions]
        assert ranks == sorted(ranks, reverse=True)


@FAST
@given(
    desired=desired_objects(max_services=6),
    percent=st.integers(0, 99),
    count=st.integers(0, 5),
    allow_prune=st.booleans(),
)
def test_an_empty_payload_against_a_populated_cluster_deletes_nothing(
    desired: list[dict[str, Any]], percent: int, count: int, allow_prune: bool
) -> None:
    cluster = applied(desired)
    owned = len(cluster.values)
    policy = PrunePolicy(max_delete_percent=percent, max_delete_count=count)
    result = plan([], cluster.live(), options=PlanOptions(prune_policy=policy, allow_prune=allow_prune))
    assert result.prune.owned == owned
    if owned > count:
        assert not any(isinstance(a, Delete) for a in result.actions)
        assert result.prune_held == (owned > 0)
        assert all(a.reason in (Reason.MASS_DELETION, Reason.STARBASE_UNREACHABLE) for a in result.actions)
    released = PrunePolicy(max_delete_percent=percent, max_delete_count=count, release_held=True)
    result = plan([], cluster.live(), options=PlanOptions(prune_policy=released))
    assert sum(isinstance(a, Delete) for a in result.actions) == owned
