"""The FakeCluster test double behaves like the port's contract says (and like an API server)."""

from __future__ import annotations

import pytest

from starform_adapters.testing import ClusterCall, FakeCluster
from starform_core.errors import ClusterApiError, ClusterConflictError, ClusterNotFoundError
from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from starform_core.kube.objects import ObjectKey
from starform_core.ports.claims import ClaimWatch
from starform_core.ports.cluster import ClusterPort

OWNED = {LABEL_MANAGED_BY: MANAGED_BY_VALUE}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "p", "labels": OWNED}}
CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "c", "namespace": "p", "labels": OWNED},
    "data": {"a": "1", "b": "2"},
}
CM_KEY = ObjectKey(group="", kind="ConfigMap", namespace="p", name="c")


def test_it_satisfies_the_port() -> None:
    port: ClusterPort = FakeCluster()
    assert port.live_objects() == []


def test_apply_needs_the_namespace_and_keeps_the_uid() -> None:
    cluster = FakeCluster()
    with pytest.raises(ClusterNotFoundError, match='namespaces "p" not found'):
        cluster.apply(CM, force=False)
    cluster.apply(NS, force=False)
    first = cluster.apply(CM, force=False)
    second = cluster.apply({**CM, "data": {"a": "9"}}, force=True)
    assert first["metadata"]["uid"] == second["metadata"]["uid"]
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert cluster.get(CM_KEY) == second
    assert [c.force for c in cluster.calls_for(CM_KEY) if c.verb == "apply"] == [False, False, True]
    assert FakeCluster(require_namespaces=False).apply(CM, force=False)["data"] == {"a": "1", "b": "2"}


def test_live_objects_are_owned_copies() -> None:
    cluster = FakeCluster([NS, CM])
    cluster.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "p"}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "w", "namespace": "p", "labels": OWNED}}
    cluster.put(pod)
    assert sorted(o["metadata"]["name"] for o in cluster.live_objects()) == ["c", "p"]
    assert [o["metadata"]["name"] for o in cluster.health_objects()] == ["w"]
    cluster.live_objects()[0]["metadata"]["name"] = "changed"
    assert sorted(o["metadata"]["name"] for o in cluster.live_objects()) == ["c", "p"]
    assert cluster.calls == [], "put and reads of the cache are not calls"


def test_failures_target_verbs_and_can_run_out() -> None:
    cluster = FakeCluster([NS, CM])
    cluster.fail(CM_KEY, ClusterApiError("throttled", status=429, retry_after=2), times=2)
    for _ in range(2):
        with pytest.raises(ClusterApiError, match="throttled") as caught:
            cluster.apply(CM, force=True)
        assert caught.value.retry_after == 2
    cluster.apply(CM, force=True)
    cluster.fail(CM_KEY, verbs=("delete",))
    cluster.apply(CM, force=True)
    assert cluster.get(CM_KEY) is not None
    with pytest.raises(ClusterApiError, match="injected failure"):
        cluster.delete(CM_KEY)
    cluster.heal(CM_KEY)
    cluster.delete(CM_KEY)
    assert cluster.stored(CM_KEY) is None
    with pytest.raises(ValueError, match="unknown verbs"):
        cluster.fail(CM_KEY, verbs=("patch",))


def test_remove_fields_and_delete_preconditions() -> None:
    cluster = FakeCluster([NS, CM])
    stripped = cluster.remove_fields(CM_KEY, ["/data/b"])
    assert stripped["data"] == {"a": "1"}
    uid = stripped["metadata"]["uid"]
    with pytest.raises(ClusterConflictError):
        cluster.delete(CM_KEY, uid="someone-else")
    cluster.delete(CM_KEY, uid=uid)
    cluster.delete(CM_KEY)  # already gone: fine
    with pytest.raises(ClusterNotFoundError):
        cluster.remove_fields(CM_KEY, ["/data/a"])
    assert cluster.writes() == [
        ClusterCall("remove_fields", CM_KEY),
        ClusterCall("delete", CM_KEY),
        ClusterCall("delete", CM_KEY),
        ClusterCall("delete", CM_KEY),
        ClusterCall("remove_fields", CM_KEY),
    ]


def test_deleting_a_namespace_deletes_what_is_in_it() -> None:
    cluster = FakeCluster([NS, CM])
    cluster.delete(ObjectKey(group="", kind="Namespace", namespace="", name="p"))
    assert cluster.objects() == []


def test_unsupported_kinds() -> None:
    cluster = FakeCluster([NS], unsupported_kinds=["HTTPRoute"])
    route_key = ObjectKey(group="gateway.networking.k8s.io", kind="HTTPRoute", namespace="p", name="r")
    assert not cluster.supports(route_key)
    assert cluster.supports(CM_KEY)
    cluster.unsupport("ConfigMap")
    assert not cluster.supports(CM_KEY)
    with pytest.raises(ClusterNotFoundError):
        cluster.apply(CM, force=False)


def test_remove_fields_checks_its_guards_first() -> None:
    cluster = FakeCluster([NS, CM])
    with pytest.raises(ClusterConflictError, match="test of /data/a failed"):
        cluster.remove_fields(CM_KEY, ["/data/b"], guards=[("/data/a", "other")])
    assert cluster.stored(CM_KEY)["data"] == {"a": "1", "b": "2"}  # type: ignore[index]
    assert cluster.remove_fields(CM_KEY, ["/data/b"], guards=[("/data/a", "1")])["data"] == {"a": "1"}


def test_the_claim_watch_lists_owned_claims_then_follows_them_and_never_sees_pods_or_foreign_claims() -> None:
    def claim(name: str, labels: dict[str, str]) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "p", "labels": labels},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        }

    cluster = FakeCluster(require_namespaces=False)
    cluster.put(claim("before", OWNED))
    seen: list[tuple[str, str]] = []
    claims: ClaimWatch = cluster
    unsubscribe = claims.watch_claims(lambda event, obj: seen.append((event, obj["metadata"]["name"])))
    cluster.put(claim("foreign", {"app": "other"}))
    cluster.put({**claim("pod", OWNED), "kind": "Pod"})
    cluster.put({**claim("before", OWNED), "status": {"phase": "Bound"}})
    cluster.delete(ObjectKey(group="", kind="PersistentVolumeClaim", namespace="p", name="before"))
    unsubscribe()
    cluster.put(claim("after", OWNED))
    assert seen == [("ADDED", "before"), ("MODIFIED", "before"), ("DELETED", "before")]
