"""The executor against the FakeCluster: apply order, failure isolation, deletions, Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from starform_adapters.testing import FakeCluster
from starform_apps.shuttle.executor import ActionOutcome, Execution, execute
from starform_core.errors import ClusterApiError
from starform_core.kube.labels import LABEL_SERVICE_NAME
from starform_core.kube.objects import KubeObject, ObjectKey, key_of
from starform_core.kube.ordering import apply_rank
from starform_core.model.cluster import PrunePolicy
from starform_core.payload import example_payload
from starform_core.plan import Action, ActionKind, PlanOptions, plan
from starform_core.render import render
from starform_core.reporting import ActionResult

OPTIONS = PlanOptions(prune_policy=PrunePolicy(release_held=True))
RENDERED: list[KubeObject] = list(render(example_payload()).objects)
SHOP = "sf-7d9a6f523c1e4e0b8f7a1a2b3c4d5e6f"
BLOG = "sf-c4e1f0a29b8d4c7ea6f50d1e2f3a4b5c"
SHARED_CONFIG = "vg-00000000000040008000000000000501"
PRODUCTION_SECRETS = "vg-00000000000040008000000000000502"


def find(kind: str, name: str, namespace: str = SHOP) -> ObjectKey:
    for obj in RENDERED:
        key = key_of(obj)
        if (key.kind, key.namespace, key.name) == (kind, namespace, name):
            return key
    raise AssertionError(f"no {kind} {namespace}/{name} in the example")


def namespace_key(name: str) -> ObjectKey:
    return ObjectKey(group="", kind="Namespace", namespace="", name=name)


def service_keys(service: str, environment: str = "production") -> set[ObjectKey]:
    """Every rendered object labelled with the service's name in that environment's namespace."""
    keys = set()
    for obj in RENDERED:
        labels = obj["metadata"].get("labels") or {}
        key = key_of(obj)
        if labels.get(LABEL_SERVICE_NAME) == service and key.name.endswith(environment):
            keys.add(key)
    assert keys, service
    return keys


class RecordingJournal:
    """A journal that hands out request ids and records what it hears, checking the order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.begun: dict[str, Action] = {}
        self.ended: list[ActionOutcome] = []

    def begin(self, action: Action) -> str:
        with self._lock:
            request_id = f"req-{len(self.begun)}"
            self.begun[request_id] = action
            return request_id

    def end(self, outcome: ActionOutcome) -> None:
        with self._lock:
            if outcome.result in (ActionResult.OK, ActionResult.FAILED):
                assert self.begun[str(outcome.request_id)] is outcome.action, "begun before it ended"
            else:
                assert outcome.request_id is None, "a skipped action is never sent"
            self.ended.append(outcome)


def run(cluster: FakeCluster, *, desired: Iterable[KubeObject] = RENDERED, workers: int = 4) -> Execution:
    the_plan = plan(list(desired), list(cluster.live_objects()), options=OPTIONS)
    journal = RecordingJournal()
    before = len(cluster.writes())
    execution = execute(cluster, the_plan.executable, workers=workers, journal=journal)
    assert sorted(journal.ended, key=lambda o: str(o.action.key)) == sorted(
        execution.outcomes, key=lambda o: str(o.action.key)
    ), "the journal hears of every outcome once"
    sent = {c.request_id for c in cluster.writes()[before:]}
    assert sent == set(journal.begun), "every write carries the request id the journal handed out"
    return execution


def by_result(execution: Execution, result: str) -> set[ObjectKey]:
    return {o.action.key for o in execution.outcomes if o.result == result}


def test_a_clean_run_applies_everything_in_rank_order() -> None:
    cluster = FakeCluster()
    execution = run(cluster)
    assert execution.complete
    assert by_result(execution, "ok") == {key_of(o) for o in RENDERED}
    ranks = [apply_rank(call.key) for call in cluster.writes()]
    assert ranks == sorted(ranks), "each phase finishes before the next starts"
    assert {call.force for call in cluster.writes()} == {False}, "creates do not force"
    assert len(cluster.objects()) == len(RENDERED)
    assert run(cluster).outcomes == (), "converged: nothing left to do"


def test_a_failing_namespace_skips_what_is_inside_it_and_the_other_namespace_proceeds() -> None:
    cluster = FakeCluster()
    cluster.fail(namespace_key(SHOP))
    execution = run(cluster)
    assert not execution.complete
    assert by_result(execution, "failed") == {namespace_key(SHOP)}
    inside = {key_of(o) for o in RENDERED if key_of(o).namespace == SHOP}
    assert by_result(execution, "skipped") == inside
    assert {call.key for call in cluster.writes()} == {key_of(o) for o in RENDERED} - inside
    blog = {key_of(o) for o in RENDERED if BLOG in (key_of(o).namespace, key_of(o).name)}
    assert by_result(execution, "ok") == blog
    assert all(o.error == "a dependency failed" for o in execution.skipped)

    cluster.heal()
    retried = run(cluster)
    assert retried.complete
    assert by_result(retried, "ok") == inside | {namespace_key(SHOP)}, "the next run applies the rest"


def test_a_failing_secret_skips_the_workloads_that_read_it_and_what_points_at_them() -> None:
    cluster = FakeCluster()
    cluster.fail(find("Secret", SHARED_CONFIG))
    execution = run(cluster)
    assert by_result(execution, "failed") == {find("Secret", SHARED_CONFIG)}
    skipped = by_result(execution, "skipped")
    # storefront (production and pr-128), mailer and nightly-report read shared-config
    for workload in (
        find("Deployment", "storefront-production"),
        find("Deployment", "storefront-pr-128"),
        find("Deployment", "mailer-production"),
        find("CronJob", "nightly-report-production"),
    ):
        assert workload in skipped, workload
    for dependant in (
        find("Service", "storefront-production"),
        find("HorizontalPodAutoscaler", "storefront-production"),
        find("Service", "storefront-pr-128"),
    ):
        assert dependant in skipped, dependant
    # orders-api reads only production-secrets; search reads nothing; ghost is in the other namespace
    ok = by_result(execution, "ok")
    for unrelated in (
        find("Secret", PRODUCTION_SECRETS),
        find("Deployment", "orders-api-production"),
        find("Service", "orders-api-production"),
        find("Deployment", "search-production"),
        find("Deployment", "ghost-staging", BLOG),
    ):
        assert unrelated in ok, unrelated
    # objects of an earlier phase than the Secret were applied for every service
    assert find("ServiceAccount", "storefront-production") in ok
    assert cluster.stored(find("Deployment", "storefront-production")) is None


def test_a_failing_service_account_holds_back_only_that_service() -> None:
    cluster = FakeCluster()
    account = find("ServiceAccount", "storefront-production")
    cluster.fail(account)
    execution = run(cluster)
    storefront = service_keys("storefront")
    same_phase = {k for k in storefront if apply_rank(k) == apply_rank(account)} - {account}
    assert by_result(execution, "failed") == {account}
    assert by_result(execution, "skipped") == storefront - same_phase - {account}
    assert by_result(execution, "ok") == {key_of(o) for o in RENDERED} - (storefront - same_phase)


def test_deletions_run_even_when_applies_fail() -> None:
    cluster = FakeCluster()
    assert run(cluster).complete
    without_ghost = [
        o for o in RENDERED if (o["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) != "ghost"
    ]
    ghost = {key_of(o) for o in RENDERED} - {key_of(o) for o in without_ghost}
    changed = [_with_image(o, "registry.example.com/new@sha256:" + "aa" * 32) for o in without_ghost]
    cluster.fail(find("Deployment", "orders-api-production"))
    execution = run(cluster, desired=changed)
    deletes = {o.action.key for o in execution.outcomes if o.action.kind is ActionKind.DELETE}
    assert deletes == ghost
    assert deletes <= by_result(execution, "ok")
    assert by_result(execution, "failed") == {find("Deployment", "orders-api-production")}
    for key in deletes:
        assert cluster.stored(key) is None
    delete_ranks = [apply_rank(c.key) for c in cluster.writes() if c.verb == "delete"]
    assert delete_ranks == sorted(delete_ranks, reverse=True), "deletions run in reverse order"
    writes = cluster.writes()
    last_apply = max(i for i, c in enumerate(writes) if c.verb == "apply")
    first_delete = min(i for i, c in enumerate(writes) if c.verb == "delete")
    assert last_apply < first_delete, "deletions run after every apply"


def test_a_failing_delete_does_not_stop_the_other_deletions() -> None:
    cluster = FakeCluster()
    assert run(cluster).complete
    without_search = [
        o for o in RENDERED if (o["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) != "search"
    ]
    service = find("Service", "search-production")
    cluster.fail(service, verbs=("delete",))
    execution = run(cluster, desired=without_search)
    assert by_result(execution, "failed") == {service}
    deleted = {o.action.key for o in execution.outcomes if o.result == "ok"}
    assert find("Deployment", "search-production") in deleted
    assert cluster.stored(find("Deployment", "search-production")) is None
    assert cluster.stored(service) is not None


def test_the_largest_retry_after_is_reported() -> None:
    cluster = FakeCluster()
    cluster.fail(
        find("Deployment", "mailer-production"), ClusterApiError("throttled", status=429, retry_after=3)
    )
    cluster.fail(
        find("Deployment", "search-production"), ClusterApiError("throttled", status=429, retry_after=9)
    )
    cluster.fail(find("Service", "orders-api-production"), ClusterApiError("boom", status=500))
    execution = run(cluster)
    assert execution.retry_after == 9
    assert {o.error for o in execution.failed} == {"throttled", "boom"}
    assert run(FakeCluster()).retry_after is None


def test_an_unexpected_error_type_is_not_swallowed() -> None:
    """Only cluster API errors are outcomes; a bug propagates (the loop logs it and backs off)."""
    the_plan = plan(RENDERED, [], options=OPTIONS)

    class Broken(FakeCluster):
        def apply(self, body: Any, *, force: bool, request_id: str | None = None) -> KubeObject:
            raise TypeError("a bug")

    with pytest.raises(TypeError, match="a bug"):
        execute(Broken(), the_plan.executable, workers=2)


def test_one_worker_gives_the_same_outcomes_as_many() -> None:
    serial, parallel = FakeCluster(), FakeCluster()
    for cluster in (serial, parallel):
        cluster.fail(find("Secret", PRODUCTION_SECRETS))
    one = run(serial, workers=1)
    many = run(parallel, workers=16)
    assert {(o.action.key, o.result) for o in one.outcomes} == {
        (o.action.key, o.result) for o in many.outcomes
    }
    assert [c.key for c in serial.writes()] == sorted(
        (c.key for c in serial.writes()), key=lambda k: (apply_rank(k), k)
    ), "one worker applies in the plan's total order"


def _with_image(obj: KubeObject, image: str) -> KubeObject:
    if obj["kind"] != "Deployment":
        return obj
    changed: dict[str, Any] = {**obj, "spec": {**obj["spec"]}}
    template = {**changed["spec"]["template"]}
    pod = {**template["spec"]}
    pod["containers"] = [{**c, "image": image} for c in pod["containers"]]
    template["spec"] = pod
    changed["spec"]["template"] = template
    return changed
