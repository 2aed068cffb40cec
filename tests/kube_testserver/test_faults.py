"""Fault injection as the official client experiences it."""

from __future__ import annotations

from collections.abc import Iterator

import kubernetes
import pytest
import urllib3
from kubernetes.client.rest import ApiException

from starform_testkit.kube_testserver import FaultRule, KubeTestServer


@pytest.fixture
def faulty() -> Iterator[KubeTestServer]:
    with KubeTestServer(controllers=False, seed=7) as server:
        yield server


def _core(server: KubeTestServer, *, retries: int | None = None) -> kubernetes.client.CoreV1Api:
    config = server.kube_config()
    if retries is not None:
        config.retries = retries
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


def test_injected_500_reaches_the_client(faulty: KubeTestServer) -> None:
    core = _core(faulty)
    faulty.add_fault(FaultRule("error", status=500, verbs=["list"], max_times=1))
    with pytest.raises(ApiException) as err:
        core.list_namespace()
    assert err.value.status == 500
    assert core.list_namespace().items == []
    assert [r.fault for r in faulty.requests.filter(verb="list")] == ["error", ""]


def test_throttling_with_retry_after(faulty: KubeTestServer) -> None:
    core = _core(faulty)
    faulty.inject("throttle", retry_after=0, methods=["POST"], max_times=1)
    with pytest.raises(ApiException) as err:
        core.create_namespace({"metadata": {"name": "a"}})
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "0"
    faulty.clear_faults()
    faulty.inject("throttle", retry_after=0, verbs=["get"], max_times=1)
    core.create_namespace({"metadata": {"name": "a"}})
    assert core.read_namespace("a").metadata.name == "a"
    assert [r.status for r in faulty.requests.filter(verb="get")] == [429, 200]


def test_injected_conflict(faulty: KubeTestServer) -> None:
    core = _core(faulty)
    core.create_namespace({"metadata": {"name": "a"}})
    faulty.inject("conflict", verbs=["patch"], max_times=1)
    with pytest.raises(ApiException) as err:
        core.patch_namespace("a", {"metadata": {"labels": {"x": "1"}}})
    assert err.value.status == 409


def test_dropped_connections(faulty: KubeTestServer) -> None:
    core = _core(faulty, retries=0)
    faulty.inject("drop", path_pattern=r"^/api/v1/namespaces$", max_times=1)
    with pytest.raises((urllib3.exceptions.HTTPError, ApiException)):
        core.list_namespace()
    assert core.list_namespace().items == []


def test_seeded_probabilities_are_reproducible() -> None:
    outcomes = []
    for _ in range(2):
        with KubeTestServer(controllers=False, seed=42) as server:
            core = _core(server)
            server.inject("error", probability=0.5, status=503, verbs=["list"])
            seen = []
            for _ in range(12):
                try:
                    core.list_namespace()
                    seen.append(200)
                except ApiException as exc:
                    seen.append(exc.status)
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]
    assert {200, 503} == set(outcomes[0])


def test_slow_responses(faulty: KubeTestServer) -> None:
    core = _core(faulty)
    faulty.inject("delay", delay_seconds=0.05, verbs=["list"], max_times=1)
    assert core.list_namespace().items == []
    assert faulty.faults.fired() == 1
