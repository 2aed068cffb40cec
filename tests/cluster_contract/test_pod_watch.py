"""Cluster-port contract, the pod watch (:class:`~starform_core.ports.pods.PodWatch`): the owned
pods listed, then every change by watch (status updates, deletes), foreign pods never; after a
``410 Gone`` one relist delivers what changed while the client was away. Billing's ledger reads
the pod's start from the real status the watch carries."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import Recorder, started
from tests.envtest.actors import Actor
from tests.envtest.waiting import wait_until
from tests.usage.pods import T0, pod, stamp

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.kube.objects import key_of
from starform_core.usage import PodLedger

_PODS = "Pod"


class Events:
    """What a pod watch listener received, thread-safe: (event, namespace, name)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str, str, dict[str, Any]]] = []

    def __call__(self, event: str, obj: dict[str, Any]) -> None:
        with self._lock:
            self.seen.append((event, obj["metadata"].get("namespace", ""), obj["metadata"]["name"], obj))

    def of(self, ns: str) -> list[tuple[str, str]]:
        with self._lock:
            return [(event, name) for event, namespace, name, _ in self.seen if namespace == ns]

    def last(self, ns: str, name: str) -> dict[str, Any]:
        with self._lock:
            return next(o for _, namespace, n, o in reversed(self.seen) if namespace == ns and n == name)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def cluster(backend: Backend, recorder: Recorder) -> Iterator[KubernetesCluster]:
    configuration = backend.configuration()
    configuration.retries = 0
    cluster = KubernetesCluster(configuration, observer=recorder, watch_timeout_seconds=30)
    with started(cluster):
        yield cluster


def _bare(name: str, ns: str, **options: Any) -> dict[str, Any]:
    """A pod manifest the API server accepts (no uid, no status: those are the server's)."""
    manifest = pod(name, namespace=ns, **options)
    del manifest["metadata"]["uid"], manifest["status"]
    return manifest


def _run(kubelet: Actor, manifest: dict[str, Any], started_at: dt.datetime) -> None:
    """What a kubelet reports once the container runs."""
    status = {
        "phase": "Running",
        "startTime": stamp(started_at),
        "containerStatuses": [
            {
                "name": "app",
                "image": "nginx:1.27",
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": stamp(started_at)}},
            }
        ],
    }
    kubelet.edit({**manifest, "status": status}, subresource="status")


def test_owned_pods_are_listed_then_followed_by_watch_and_foreign_pods_never_arrive(
    cluster: KubernetesCluster, kubectl: Actor, raw: Any, recorder: Recorder, ns: str
) -> None:
    kubelet = Actor(raw, "kubelet")
    before = _bare("before", ns)
    kubectl.create(before)
    wait_until(
        lambda: any(o["metadata"]["name"] == "before" for o in cluster.health_objects()),
        timeout=10,
        message="the pod in the cache",
    )
    events, ledger = Events(), PodLedger()

    def feed(event: str, obj: dict[str, Any]) -> None:
        events(event, obj)
        ledger.observe(event, obj, at=T0 + dt.timedelta(hours=1))

    unsubscribe = cluster.watch_pods(feed)
    assert events.of(ns) == [("ADDED", "before")], "the pods already known arrive first"
    kubectl.create(_bare("foreign", ns, labels={"app": "not-starform"}))
    web = _bare("web", ns, cpu="750m", memory="256Mi")
    kubectl.create(web)
    _run(kubelet, web, T0)
    wait_until(lambda: ("MODIFIED", "web") in events.of(ns), timeout=10, message="the status update by watch")
    assert events.last(ns, "web")["status"]["phase"] == "Running"
    samples = ledger.samples(T0, T0 + dt.timedelta(minutes=1))
    assert [(s.requests.cpu, s.running_since) for s in samples] == [("750m", None)], "ran all window"
    kubectl.delete(key_of(before))
    wait_until(lambda: ("DELETED", "before") in events.of(ns), timeout=10, message="the DELETED event")
    assert all(name != "foreign" for _, name in events.of(ns))
    assert recorder.count("list", _PODS) == 1, "changes arrive by watch, never by LIST"
    unsubscribe()
    kubectl.delete(key_of(web))
    wait_until(
        lambda: all(o["metadata"]["name"] != "web" for o in cluster.health_objects()),
        timeout=10,
        message="the cache to drop the pod",
    )
    assert ("DELETED", "web") not in events.of(ns), "nothing arrives once unsubscribed"


def test_after_410_gone_one_relist_delivers_the_pods_gone_and_come_meanwhile(
    backend: Backend, cluster: KubernetesCluster, kubectl: Actor, recorder: Recorder, ns: str
) -> None:
    events = Events()
    cluster.watch_pods(events)
    kubectl.create(_bare("stays", ns))
    kubectl.create(_bare("goes", ns))
    wait_until(lambda: len(events.of(ns)) == 2, timeout=10, message="both pods")

    def changes() -> None:
        for index in range(3):
            kubectl.create(_bare(f"during-{index}", ns))
        kubectl.delete(key_of(_bare("goes", ns)))

    backend.forget_watch_history(changes, plural="pods")
    expected = {"stays", "during-0", "during-1", "during-2"}
    wait_until(
        lambda: (
            {o["metadata"]["name"] for o in cluster.health_objects() if o["metadata"]["namespace"] == ns}
            == expected
        ),
        timeout=60,
        message="the pod cache to catch up",
    )
    wait_until(lambda: ("DELETED", "goes") in events.of(ns), timeout=10, message="the pod gone meanwhile")
    arrived = {name for event, name in events.of(ns) if event in ("ADDED", "MODIFIED")}
    assert expected <= arrived
    assert recorder.count("list", _PODS) == 2, "the 410 cost exactly one relist"
