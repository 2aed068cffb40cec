"""The cluster-port contract runs every test against both servers (``backend``), each test in a
namespace of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from tests.cluster_contract.backends import Backend, RealServer, TestServer
from tests.envtest.actors import Actor
from tests.envtest.raw import RawClient

from starform_testkit.kube_testserver import KubeTestServer


@pytest.fixture(scope="module")
def _test_server() -> Iterator[KubeTestServer]:
    with KubeTestServer(controllers=False, gateway_api=True) as server:
        yield server


@pytest.fixture(params=["test-server", pytest.param("kube-apiserver", marks=pytest.mark.real_kube_apiserver)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each contract test runs once per server."""
    if request.param == "test-server":
        return TestServer(request.getfixturevalue("_test_server"))
    return RealServer(request.getfixturevalue("kube_apiserver"))


@pytest.fixture
def raw(backend: Backend) -> Iterator[RawClient]:
    """Plain HTTP to the backend."""
    client = RawClient(backend.configuration())
    yield client
    client.close()


@pytest.fixture
def ns(raw: RawClient) -> str:
    """A fresh namespace."""
    name = f"contract-{uuid.uuid4().hex[:10]}"
    Actor(raw, "starform-test").create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


@pytest.fixture
def kubectl(raw: RawClient) -> Actor:
    """``kubectl edit`` and friends."""
    return Actor(raw, "kubectl-edit")
