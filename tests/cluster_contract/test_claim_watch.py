"""Cluster-port contract, the claim watch (:class:`~starform_core.ports.claims.ClaimWatch`): the
owned PersistentVolumeClaims listed, then every change by watch (the binder's status update, the
delete, held by ``pvc-protection`` on kube-apiserver until the finalizer goes), foreign claims
never; after a ``410
Gone`` one relist delivers what changed while the client was away. Billing's claim ledger reads
the capacity and the binding from the real objects the watch carries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import Recorder, started
from tests.cluster_contract.test_pod_watch import Events
from tests.envtest.actors import Actor
from tests.envtest.waiting import wait_until
from tests.usage.claims import claim
from tests.usage.pods import T0

from starform_adapters.kubernetes import KubernetesCluster
from starform_core.kube.objects import key_of
from starform_core.usage import ClaimLedger

_CLAIMS = "PersistentVolumeClaim"
GIB = 1 << 30


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
    """A claim manifest the API server accepts (no uid, no status: those are the server's)."""
    manifest = claim(name, namespace=ns, phase=None, **options)
    del manifest["metadata"]["uid"], manifest["status"]
    return manifest


def _bind(binder: Actor, manifest: dict[str, Any], capacity: str) -> None:
    """What the PV binder reports once the volume is provisioned."""
    status = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": capacity}}
    binder.edit({**manifest, "status": status}, subresource="status")


def _delete(kubectl: Actor, manifest: dict[str, Any]) -> None:
    """Delete a claim as a user does, then let it go as the ``pvc-protection`` controller does
    when no pod mounts it (kube-apiserver keeps the claim terminating until then; the test server
    removes it at once)."""
    key = key_of(manifest)
    kubectl.delete(key)
    terminating = kubectl.get(key)
    if terminating is not None:
        assert "deletionTimestamp" in terminating["metadata"], terminating
        kubectl.json_patch(key, [{"op": "remove", "path": "/metadata/finalizers"}])


def _names(cluster: KubernetesCluster, ns: str) -> set[str]:
    return {
        o["metadata"]["name"]
        for o in cluster.live_objects()
        if o["kind"] == _CLAIMS and o["metadata"].get("namespace") == ns
    }


def test_owned_claims_are_listed_then_followed_by_watch_and_foreign_claims_never_arrive(
    cluster: KubernetesCluster, kubectl: Actor, raw: Any, recorder: Recorder, ns: str
) -> None:
    binder = Actor(raw, "kube-controller-manager")
    before = _bare("before", ns)
    kubectl.create(before)
    wait_until(lambda: "before" in _names(cluster, ns), timeout=10, message="the claim in the cache")
    events, ledger = Events(), ClaimLedger()
    seen_at = T0 + dt.timedelta(hours=1)

    def feed(event: str, obj: dict[str, Any]) -> None:
        events(event, obj)
        ledger.observe(event, obj, at=seen_at)

    unsubscribe = cluster.watch_claims(feed)
    assert events.of(ns) == [("ADDED", "before")], "the claims already known arrive first"
    kubectl.create(_bare("foreign", ns, labels={"app": "not-starform"}))
    data = _bare("data", ns, request="10Gi")
    kubectl.create(data)
    _bind(binder, data, "12Gi")
    wait_until(lambda: ("MODIFIED", "data") in events.of(ns), timeout=10, message="the binding by watch")
    assert events.last(ns, "data")["status"]["phase"] == "Bound"
    window = (seen_at, seen_at + dt.timedelta(minutes=1))
    samples = ledger.samples(*window)
    assert [(s.storage_bytes, s.bound_since) for s in samples] == [(12 * GIB, None)], "the capacity"
    _delete(kubectl, data)
    wait_until(lambda: ("DELETED", "data") in events.of(ns), timeout=10, message="the DELETED event")
    assert events.last(ns, "data")["status"]["phase"] == "Bound", "its last known state"
    assert all(name != "foreign" for _, name in events.of(ns))
    assert recorder.count("list", _CLAIMS) == 1, "changes arrive by watch, never by LIST"
    unsubscribe()
    _delete(kubectl, before)
    wait_until(lambda: "before" not in _names(cluster, ns), timeout=10, message="the cache to drop it")
    assert ("DELETED", "before") not in events.of(ns), "nothing arrives once unsubscribed"


def test_after_410_gone_one_relist_delivers_the_claims_gone_and_come_meanwhile(
    backend: Backend, cluster: KubernetesCluster, kubectl: Actor, recorder: Recorder, ns: str
) -> None:
    events = Events()
    cluster.watch_claims(events)
    kubectl.create(_bare("stays", ns))
    goes = _bare("goes", ns)
    kubectl.create(goes)
    wait_until(lambda: len(events.of(ns)) == 2, timeout=10, message="both claims")

    def changes() -> None:
        for index in range(3):
            kubectl.create(_bare(f"during-{index}", ns))
        _delete(kubectl, goes)

    backend.forget_watch_history(changes, plural="persistentvolumeclaims")
    expected = {"stays", "during-0", "during-1", "during-2"}
    wait_until(lambda: _names(cluster, ns) == expected, timeout=60, message="the claim cache to catch up")
    wait_until(lambda: ("DELETED", "goes") in events.of(ns), timeout=10, message="the claim gone meanwhile")
    arrived = {name for event, name in events.of(ns) if event in ("ADDED", "MODIFIED")}
    assert expected <= arrived
    assert recorder.count("list", _CLAIMS) == 2, "the 410 cost exactly one relist"
