"""Cluster-port contract: the list-then-watch cache (changes arrive by watch only), resume after
a watch ends, ``410 Gone`` and one relist."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import Recorder, configmap, started
from tests.envtest.actors import Actor
from tests.envtest.waiting import wait_until

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.kube.objects import KubeObject, key_of

_CONFIGMAPS = "ConfigMap"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def restarts() -> list[str]:
    return []


@pytest.fixture
def cluster(backend: Backend, recorder: Recorder, restarts: list[str]) -> Iterator[KubernetesCluster]:
    configuration = backend.configuration()
    configuration.retries = 0  # every refused request reaches the cache (no hidden retries)
    cluster = KubernetesCluster(
        configuration, observer=recorder, on_watch_restart=restarts.append, watch_timeout_seconds=30
    )
    with started(cluster):
        yield cluster


def _cached(cluster: KubernetesCluster, ns: str) -> dict[str, KubeObject]:
    return {o["metadata"]["name"]: o for o in cluster.live_objects() if o["metadata"].get("namespace") == ns}


def test_owned_objects_are_listed_then_followed_by_watch_only(
    cluster: KubernetesCluster, kubectl: Actor, recorder: Recorder, ns: str
) -> None:
    lists = recorder.count("list", _CONFIGMAPS)
    assert lists == 1, "one LIST per kind at start"
    cluster.apply(configmap("owned", ns), force=True)
    kubectl.create(configmap("foreign", ns, owned=False))
    wait_until(lambda: set(_cached(cluster, ns)) == {"owned"}, timeout=10, message="the ADDED event")
    revision = cluster.revision()
    kubectl.edit({**configmap("owned", ns), "data": {"value": "edited"}})
    wait_until(
        lambda: _cached(cluster, ns)["owned"]["data"]["value"] == "edited",
        timeout=10,
        message="the MODIFIED event",
    )
    assert cluster.revision() > revision
    kubectl.delete(key_of(configmap("owned", ns)))
    wait_until(lambda: _cached(cluster, ns) == {}, timeout=10, message="the DELETED event")
    assert recorder.count("list", _CONFIGMAPS) == lists, "changes arrive by watch, never by LIST"


def test_a_watch_that_ends_is_resumed_without_a_list(
    backend: Backend, recorder: Recorder, kubectl: Actor, ns: str
) -> None:
    short = KubernetesCluster(backend.configuration(), observer=recorder, watch_timeout_seconds=1)
    with started(short) as cluster:
        wait_until(lambda: recorder.count("watch", _CONFIGMAPS) >= 3, timeout=15, message="two resumes")
        kubectl.create(configmap("after-resume", ns))
        wait_until(
            lambda: "after-resume" in _cached(cluster, ns), timeout=10, message="the event after resuming"
        )
        assert recorder.count("list", _CONFIGMAPS) == 1, "a resume is not a relist"


def test_a_resume_from_a_forgotten_version_gets_410_and_relists_once(
    backend: Backend,
    cluster: KubernetesCluster,
    kubectl: Actor,
    recorder: Recorder,
    restarts: list[str],
    ns: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="starform.shuttle.cache")
    cluster.apply(configmap("before", ns), force=True)
    wait_until(lambda: "before" in _cached(cluster, ns), timeout=10, message="the first object")

    def changes() -> None:
        for index in range(3):
            kubectl.create(configmap(f"during-{index}", ns))
        kubectl.delete(key_of(configmap("before", ns)))

    backend.forget_watch_history(changes)
    expected = {f"during-{index}" for index in range(3)}
    wait_until(lambda: set(_cached(cluster, ns)) == expected, timeout=60, message="the cache to catch up")
    assert recorder.count("list", _CONFIGMAPS) == 2, "the 410 cost exactly one relist"
    assert "ConfigMap" in restarts
    relists = [
        r.error  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "watch restarts" and r.kind == "ConfigMap"  # type: ignore[attr-defined]
    ]
    assert relists == ["watch error 410: Expired"], relists
    # and the cache follows by watch again
    kubectl.create(configmap("after", ns))
    wait_until(lambda: "after" in _cached(cluster, ns), timeout=10, message="a change after the relist")
    assert recorder.count("list", _CONFIGMAPS) == 2


def test_a_write_answer_is_cached_before_its_watch_event(cluster: KubernetesCluster, ns: str) -> None:
    live = cluster.apply(configmap("mine", ns), force=True)
    assert key_of(live) in {key_of(o) for o in cluster.live_objects()}, "no API call needed to see it"
