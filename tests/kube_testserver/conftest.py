"""Fixtures for the Kubernetes test server suite: one server per module, a namespace per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import kubernetes
import pytest

from starform_testkit.kube_testserver import KubeTestServer

_counter = itertools.count()


@pytest.fixture(scope="module")
def kube() -> Iterator[KubeTestServer]:
    with KubeTestServer(failing_images=r"(^|/)broken[:/@]", gateway_api=False) as server:
        yield server


@pytest.fixture(scope="module")
def client(kube: KubeTestServer) -> Iterator[kubernetes.client.ApiClient]:
    api = kubernetes.client.ApiClient(kube.kube_config())
    yield api
    api.close()


@pytest.fixture
def core(client: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(client)


@pytest.fixture
def apps(client: kubernetes.client.ApiClient) -> kubernetes.client.AppsV1Api:
    return kubernetes.client.AppsV1Api(client)


@pytest.fixture
def ns(core: kubernetes.client.CoreV1Api) -> str:
    name = f"t{next(_counter)}"
    core.create_namespace({"metadata": {"name": name}})
    return name
