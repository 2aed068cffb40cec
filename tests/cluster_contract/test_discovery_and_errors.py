"""Cluster-port contract: discovery of a missing CRD, and the translation of the server's 404,
409 and 422 answers into the project's error types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import OWNED, configmap, deployment, started

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.errors import (
    ClusterApiError,
    ClusterConflictError,
    ClusterNotFoundError,
    ClusterUnavailableError,
)
from starform_core.kube.objects import key_of


def _route(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": ns, "labels": dict(OWNED)},
        "spec": {
            "parentRefs": [{"name": "gateway", "namespace": "envoy-gateway-system"}],
            "hostnames": ["shop.example.com"],
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
        },
    }


@pytest.fixture
def cluster(backend: Backend) -> KubernetesCluster:
    return KubernetesCluster(backend.configuration())


@pytest.fixture
def without_gateway_api(backend: Backend) -> Iterator[None]:
    backend.uninstall_gateway_api()
    try:
        yield
    finally:
        backend.install_gateway_api()


def test_an_installed_crd_is_discovered_and_served(cluster: KubernetesCluster, ns: str) -> None:
    assert cluster.gateway_api_installed(refresh=True)
    route = _route(ns)
    assert cluster.supports(key_of(route))
    live = cluster.apply(route, force=True)
    assert live["spec"]["rules"][0]["backendRefs"][0]["weight"] == 1, "the CRD's schema defaults apply"


@pytest.mark.usefixtures("without_gateway_api")
def test_a_missing_crd_is_discovered_and_its_kind_is_not_served(backend: Backend, ns: str) -> None:
    with started(KubernetesCluster(backend.configuration())) as cluster:
        route = _route(ns)
        assert not cluster.gateway_api_installed()
        assert not cluster.supports(key_of(route))
        assert cluster.supports(key_of(configmap("x", ns))), "built-in kinds are always served"
        assert cluster.synced, "a kind that is not served counts as listed (empty)"
        with pytest.raises(ClusterNotFoundError) as raised:
            cluster.apply(route, force=True)
        assert raised.value.status == 404
        assert cluster.get(key_of(route)) is None
        backend.install_gateway_api()
        assert cluster.gateway_api_installed(refresh=True)
        assert cluster.supports(key_of(route))


def test_a_stale_resource_version_is_a_conflict(cluster: KubernetesCluster, ns: str) -> None:
    live = cluster.apply(configmap("cm", ns), force=True)
    stale = configmap("cm", ns, value="2")
    stale["metadata"]["resourceVersion"] = str(int(live["metadata"]["resourceVersion"]) - 1)
    with pytest.raises(ClusterConflictError) as raised:
        cluster.apply(stale, force=True)
    assert raised.value.status == 409 and "the object has been modified" in str(raised.value)


def test_an_invalid_value_is_a_422_naming_the_field(cluster: KubernetesCluster, ns: str) -> None:
    with pytest.raises(ClusterApiError) as raised:
        cluster.apply(deployment("web", ns, replicas=-1), force=True)
    error = raised.value
    assert error.status == 422
    assert not isinstance(error, ClusterConflictError | ClusterNotFoundError | ClusterUnavailableError)
    assert 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1' in str(error)


def test_an_immutable_field_is_a_422(cluster: KubernetesCluster, ns: str) -> None:
    cluster.apply(deployment("web", ns), force=True)
    changed = deployment("web", ns)
    changed["spec"]["selector"]["matchLabels"]["tier"] = "front"
    changed["spec"]["template"]["metadata"]["labels"]["tier"] = "front"
    with pytest.raises(ClusterApiError) as raised:
        cluster.apply(changed, force=True)
    assert raised.value.status == 422
    assert "spec.selector: Invalid value" in str(raised.value) and "field is immutable" in str(raised.value)


def test_an_invalid_name_is_a_422(cluster: KubernetesCluster, ns: str) -> None:
    with pytest.raises(ClusterApiError) as raised:
        cluster.apply(configmap("Not_A_Name", ns), force=True)
    assert raised.value.status == 422
    assert 'metadata.name: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain' in str(raised.value)


def test_an_unknown_field_in_an_apply_is_an_api_error_not_an_outage(
    cluster: KubernetesCluster, ns: str
) -> None:
    body = deployment("web", ns)
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(ClusterApiError) as raised:
        cluster.apply(body, force=True)
    # kube-apiserver answers 500 (whatever fieldValidation says); retrying cannot fix the body
    assert raised.value.status == 500
    assert not isinstance(raised.value, ClusterUnavailableError)
    assert 'containers[name="app"].imagePullPolicyy: field not declared in schema' in str(raised.value)


def test_a_missing_namespace_is_not_found(cluster: KubernetesCluster) -> None:
    with pytest.raises(ClusterNotFoundError) as raised:
        cluster.apply(configmap("cm", "no-such-namespace"), force=True)
    assert 'namespaces "no-such-namespace" not found' in str(raised.value)
