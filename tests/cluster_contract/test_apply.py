"""Cluster-port contract, server-side apply: field manager ``shuttle``, force only where Shuttle
owns, conflicts with other managers, removal of what Shuttle stops setting."""

from __future__ import annotations

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import configmap, deployment, managers
from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.errors import ClusterConflictError
from starform_core.kube.objects import key_of


@pytest.fixture
def cluster(backend: Backend) -> KubernetesCluster:
    return KubernetesCluster(backend.configuration())


def test_apply_creates_as_field_manager_shuttle_with_server_defaults(
    cluster: KubernetesCluster, ns: str
) -> None:
    live = cluster.apply(deployment("web", ns), force=False)
    assert live["metadata"]["uid"] and live["metadata"]["resourceVersion"]
    assert managers(live) == {"shuttle": ("Apply", "")}
    assert live["spec"]["strategy"]["type"] == "RollingUpdate", "server defaults are filled in"
    assert live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] == "File"
    fetched = cluster.get(key_of(live))
    assert (
        fetched is not None and fetched["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    )
    assert (fetched["apiVersion"], fetched["kind"]) == ("apps/v1", "Deployment")


def test_an_unchanged_apply_writes_nothing(cluster: KubernetesCluster, ns: str) -> None:
    first = cluster.apply(deployment("web", ns), force=True)
    again = cluster.apply(deployment("web", ns), force=True)
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["generation"] == 1


def test_a_non_forced_apply_conflicts_with_another_managers_field(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    live = cluster.apply(deployment("web", ns, replicas=2), force=False)
    kubectl.edit({**deployment("web", ns), "spec": {"replicas": 5}})
    with pytest.raises(ClusterConflictError) as raised:
        cluster.apply(deployment("web", ns, replicas=3), force=False)
    assert raised.value.status == 409
    assert 'conflict with "kubectl-edit"' in str(raised.value) and ".spec.replicas" in str(raised.value)
    unchanged = cluster.get(key_of(live))
    assert unchanged is not None and unchanged["spec"]["replicas"] == 5, "a refused apply changes nothing"


def test_a_forced_apply_takes_the_field_back(cluster: KubernetesCluster, kubectl: Actor, ns: str) -> None:
    cluster.apply(deployment("web", ns, replicas=2), force=False)
    kubectl.edit({**deployment("web", ns), "spec": {"replicas": 5}})
    live = cluster.apply(deployment("web", ns, replicas=2), force=True)
    assert live["spec"]["replicas"] == 2
    # kubectl-edit owned nothing else: its entry is gone with the field
    assert managers(live) == {"shuttle": ("Apply", "")}


def test_applying_the_value_another_manager_set_shares_it_without_conflict(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    cluster.apply(deployment("web", ns, replicas=2), force=False)
    kubectl.edit({**deployment("web", ns), "spec": {"replicas": 5}})
    live = cluster.apply(deployment("web", ns, replicas=5), force=False)
    assert live["spec"]["replicas"] == 5
    assert set(managers(live)) == {"shuttle", "kubectl-edit"}


def test_a_non_forced_apply_leaves_a_second_appliers_fields_alone(
    cluster: KubernetesCluster, raw: RawClient, ns: str
) -> None:
    cluster.apply(deployment("web", ns), force=False)
    mesh = Actor(raw, "mesh-injector")
    mesh.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns, "annotations": {"mesh.example/inject": "true"}},
            "spec": {
                "template": {"spec": {"containers": [{"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}]}}
            },
        }
    )
    live = cluster.apply(deployment("web", ns, env=[{"name": "MODE", "value": "fast"}]), force=False)
    assert live["metadata"]["annotations"] == {"mesh.example/inject": "true"}
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "proxy"}
    assert containers["app"]["env"] == [{"name": "MODE", "value": "fast"}]


def test_fields_shuttle_stops_setting_are_removed_unless_another_manager_owns_them(
    cluster: KubernetesCluster, raw: RawClient, ns: str
) -> None:
    cluster.apply(
        deployment(
            "web",
            ns,
            env=[{"name": "KEEP", "value": "1"}, {"name": "DROP", "value": "2"}],
            annotations={"keep": "1", "drop": "2", "shared": "3"},
        ),
        force=False,
    )
    Actor(raw, "platform").apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns, "annotations": {"shared": "3"}},
        }
    )
    live = cluster.apply(
        deployment("web", ns, replicas=None, env=[{"name": "KEEP", "value": "1"}], annotations={"keep": "1"}),
        force=False,
    )
    assert live["metadata"]["annotations"] == {"keep": "1", "shared": "3"}
    assert live["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "KEEP", "value": "1"}]
    # replicas is no longer applied by anyone: it falls back to the server's default
    assert live["spec"]["replicas"] == 1


def test_an_apply_that_changes_nothing_it_owns_keeps_foreign_data_keys(
    cluster: KubernetesCluster, kubectl: Actor, ns: str
) -> None:
    cluster.apply(configmap("settings", ns, a="1"), force=True)
    kubectl.edit({**configmap("settings", ns), "data": {"added-by-hand": "x"}})
    live = cluster.apply(configmap("settings", ns, a="1"), force=True)
    assert live["data"] == {"a": "1", "added-by-hand": "x"}, "force takes only fields Shuttle applies"


def test_the_scale_subresource_is_another_managers_write_that_conflicts(
    cluster: KubernetesCluster, raw: RawClient, ns: str
) -> None:
    live = cluster.apply(deployment("web", ns, replicas=2), force=False)
    scale = Actor(raw, "kubectl-scale").scale(key_of(live), 5)
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 5} and scale["status"]["selector"] == "app=web"
    scaled = cluster.get(key_of(live))
    assert scaled is not None and scaled["spec"]["replicas"] == 5
    assert managers(scaled)["kubectl-scale"] == ("Update", "scale")
    with pytest.raises(ClusterConflictError) as raised:
        cluster.apply(deployment("web", ns, replicas=2), force=False)
    assert 'conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas' in str(
        raised.value
    )
