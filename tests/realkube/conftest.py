"""Fixtures for the real-server suites: the session's kube-apiserver, its load balancer Service
(owned by the gateway, as on a real cluster), the adapter, and Shuttle's view of one payload."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from tests.envtest.control_plane import ControlPlane
from tests.envtest.raw import RawClient
from tests.realkube.payloads import install_load_balancer, relocated
from tests.realkube.shuttle_view import ShuttleView

from starform_adapters.kubernetes import KubeApi, KubernetesCluster
from starform_core.payload import DesiredState

_salt = itertools.count()


@pytest.fixture
def raw(kube_apiserver: ControlPlane) -> Iterator[RawClient]:
    """Plain HTTP to the real server."""
    client = RawClient(kube_apiserver.configuration())
    yield client
    client.close()


@pytest.fixture
def load_balancer(raw: RawClient) -> None:
    """The gateway's LoadBalancer Service (idempotent per session)."""
    install_load_balancer(raw)


@pytest.fixture
def adapter(kube_apiserver: ControlPlane) -> Iterator[tuple[KubeApi, KubernetesCluster]]:
    """Shuttle's Kubernetes adapter (writes, gets) and a plain API client (lists)."""
    api = KubeApi(kube_apiserver.configuration())
    cluster = KubernetesCluster(kube_apiserver.configuration())
    yield api, cluster
    cluster.stop()
    api.close()


ViewFactory = Callable[[DesiredState], ShuttleView]


@pytest.fixture
def view_of(adapter: tuple[KubeApi, KubernetesCluster], load_balancer: None) -> ViewFactory:
    """Shuttle's view of a payload, moved to namespaces no other test uses."""
    api, cluster = adapter

    def make(document: DesiredState) -> ShuttleView:
        return ShuttleView(api, cluster, relocated(document, f"salt-{next(_salt)}"))

    return make
