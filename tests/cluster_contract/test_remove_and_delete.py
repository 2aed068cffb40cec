"""Cluster-port contract: the guarded JSON-patch removal of out-of-band additions (a list item by
its merge key, a list item by index, a field inside an item), and deletes with a uid
precondition."""

from __future__ import annotations

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import configmap, deployment
from tests.envtest.actors import Actor

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.errors import ClusterConflictError
from starform_core.kube.objects import ObjectKey, key_of

_CONTAINER = "/spec/template/spec/containers/0"


@pytest.fixture
def cluster(backend: Backend) -> KubernetesCluster:
    return KubernetesCluster(backend.configuration())


def _web(cluster: KubernetesCluster, kubectl: Actor, ns: str) -> ObjectKey:
    """Shuttle's Deployment, then kubectl adds an env var, a toleration and a sidecar's limits."""
    live = cluster.apply(deployment("web", ns, env=[{"name": "MODE", "value": "fast"}]), force=False)
    kubectl.edit(
        {
            **deployment("web", ns),
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "nginx:1.27",
                                "env": [
                                    {"name": "MODE", "value": "fast"},
                                    {"name": "INJECTED", "value": "1"},
                                ],
                                "resources": {"limits": {"cpu": "1"}},
                            }
                        ],
                        "tolerations": [
                            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
                        ],
                    }
                }
            },
        }
    )
    return key_of(live)


def test_an_added_list_item_is_removed_by_merge_key_guard(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    key = _web(cluster, kubectl, ns)
    live = cluster.remove_fields(
        key,
        [f"{_CONTAINER}/env/1"],
        guards=[(f"{_CONTAINER}/env/1/name", "INJECTED"), (f"{_CONTAINER}/name", "app")],
    )
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "MODE", "value": "fast"}]
    assert container["resources"] == {"limits": {"cpu": "1"}}, "nothing else is touched"


def test_an_added_item_of_an_atomic_list_is_removed_by_index_with_its_value_as_guard(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    key = _web(cluster, kubectl, ns)
    toleration = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    live = cluster.remove_fields(
        key, ["/spec/template/spec/tolerations"], guards=[("/spec/template/spec/tolerations/0", toleration)]
    )
    assert "tolerations" not in live["spec"]["template"]["spec"]


def test_a_field_inside_a_list_item_is_removed_after_checking_the_item(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    key = _web(cluster, kubectl, ns)
    live = cluster.remove_fields(
        key, [f"{_CONTAINER}/resources/limits"], guards=[(f"{_CONTAINER}/name", "app")]
    )
    assert live["spec"]["template"]["spec"]["containers"][0]["resources"] == {}


def test_removals_apply_in_the_order_given(cluster: KubernetesCluster, kubectl: Actor, ns: str) -> None:
    key = _web(cluster, kubectl, ns)
    live = cluster.remove_fields(
        key, [f"{_CONTAINER}/env/1", f"{_CONTAINER}/resources/limits", "/spec/template/spec/tolerations"]
    )
    spec = live["spec"]["template"]["spec"]
    assert spec["containers"][0]["env"] == [{"name": "MODE", "value": "fast"}] and "tolerations" not in spec


def test_a_guard_that_no_longer_holds_refuses_the_whole_patch_as_a_conflict(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    key = _web(cluster, kubectl, ns)
    before = cluster.get(key)
    with pytest.raises(ClusterConflictError) as raised:
        cluster.remove_fields(
            key,
            [f"{_CONTAINER}/resources/limits", f"{_CONTAINER}/env/1"],
            guards=[(f"{_CONTAINER}/env/1/name", "SHIFTED")],
        )
    assert raised.value.status == 422
    after = cluster.get(key)
    assert before is not None and after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (
        "nothing was removed"
    )


def test_removing_a_field_that_is_already_gone_is_refused(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    key = _web(cluster, kubectl, ns)
    with pytest.raises(ClusterConflictError):
        cluster.remove_fields(key, [f"{_CONTAINER}/livenessProbe"])


def test_delete_with_the_right_uid_deletes(cluster: KubernetesCluster, ns: str) -> None:
    live = cluster.apply(configmap("doomed", ns), force=True)
    cluster.delete(key_of(live), uid=live["metadata"]["uid"])
    assert cluster.get(key_of(live)) is None


def test_delete_with_a_stale_uid_is_a_conflict_and_keeps_the_object(
    cluster: KubernetesCluster, ns: str
) -> None:
    live = cluster.apply(configmap("recreated", ns), force=True)
    with pytest.raises(ClusterConflictError) as raised:
        cluster.delete(key_of(live), uid="00000000-0000-4000-8000-000000000000")
    assert raised.value.status == 409 and "UID" in str(raised.value)
    assert cluster.get(key_of(live)) is not None


def test_deleting_what_is_already_gone_is_not_an_error(cluster: KubernetesCluster, ns: str) -> None:
    live = cluster.apply(configmap("gone", ns), force=True)
    cluster.delete(key_of(live))
    cluster.delete(key_of(live), uid=live["metadata"]["uid"])
    assert cluster.get(key_of(live)) is None
