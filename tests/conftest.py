"""Session-wide fixtures: the real etcd and kube-apiserver (tests/envtest), shared by the
real-server suites (the cluster-port contract, no-false-drift, end to end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.envtest.control_plane import ControlPlane
from tests.envtest.fixtures import ensure_servers_built, start_control_plane


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the servers before the first test when any collected test needs them."""
    ensure_servers_built(session)


@pytest.fixture(scope="session")
def kube_apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """One real control plane for the session, with the Gateway API CRD installed. Tests share it:
    each works in namespaces of its own and leaves the CRD installed."""
    yield from start_control_plane(request.config, tmp_path_factory.mktemp("envtest"), gateway_api=True)


@pytest.fixture(scope="module")
def own_kube_apiserver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane for one module alone (for tests that see the whole cluster, such as a
    Shuttle that would prune what other tests own), with the Gateway API CRD installed."""
    yield from start_control_plane(request.config, tmp_path_factory.mktemp("envtest"), gateway_api=True)
