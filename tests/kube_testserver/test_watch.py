"""Watch streams through ``kubernetes.watch.Watch``: events, resume, bookmarks, 410, kills."""

from __future__ import annotations

import threading
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from starform_testkit.kube_testserver import KubeTestServer


def _collect(func: Any, *args: Any, stop_after: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    watcher = kubernetes.watch.Watch()
    for event in watcher.stream(func, *args, **kwargs):
        events.append(event)
        if stop_after is not None and len(events) >= stop_after:
            watcher.stop()
    return events


def test_watch_sees_added_modified_deleted(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    listed = core.list_namespaced_config_map(ns)
    rv = listed.metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("a", ns)
    events = _collect(
        core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1, stop_after=3
    )
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[1]["object"].data == {"k": "2"}
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(versions)


def test_watch_without_resource_version_starts_with_current_state(
    core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    for name in ("x", "y"):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": {"n": name}}})
    events = _collect(
        core.list_namespaced_config_map, ns, label_selector="n=y", timeout_seconds=1, stop_after=1
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "y")]


def test_watch_streams_live_changes_and_resumes(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[str] = []
    ready = threading.Event()
    watcher = kubernetes.watch.Watch()

    def consume() -> None:
        for event in watcher.stream(
            core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=5
        ):
            seen.append(event["object"].metadata.name)
            ready.set()
            if len(seen) == 2:
                watcher.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    core.create_namespaced_config_map(ns, {"metadata": {"name": "one"}})
    assert ready.wait(5)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "two"}})
    thread.join(5)
    assert seen == ["one", "two"]
    resume_from = watcher.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "three"}})
    resumed = _collect(
        core.list_namespaced_config_map, ns, resource_version=resume_from, timeout_seconds=1, stop_after=1
    )
    assert [e["object"].metadata.name for e in resumed] == ["three"]


def test_bookmarks(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    events = _collect(
        core.list_namespaced_config_map,
        ns,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=0,
        deserialize=False,
    )
    assert events
    assert all(e["type"] == "BOOKMARK" for e in events)
    assert events[0]["object"]["metadata"]["resourceVersion"] == rv


def test_too_old_resource_version_is_410_gone(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    kube.set_watch_history(5)
    try:
        for i in range(10):
            core.create_namespaced_config_map(ns, {"metadata": {"name": f"c{i}"}})
        with pytest.raises(ApiException) as err:
            _collect(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=1)
        assert err.value.status == 410
        assert "too old resource version" in str(err.value.reason)
    finally:
        kube.set_watch_history(10_000)


def test_watch_timeout_ends_the_stream(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    rv = core.list_namespaced_secret(ns).metadata.resource_version
    assert _collect(core.list_namespaced_secret, ns, resource_version=rv, timeout_seconds=0) == []


def test_cluster_wide_watch(apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    from .helpers import deployment

    rv = apps.list_deployment_for_all_namespaces().metadata.resource_version
    apps.create_namespaced_deployment(ns, deployment("w", ns, replicas=0))
    events = _collect(
        apps.list_deployment_for_all_namespaces, resource_version=rv, timeout_seconds=1, stop_after=1
    )
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"].metadata.namespace == ns


@pytest.mark.parametrize("abrupt", [False, True])
def test_killing_watch_streams(kube: KubeTestServer, abrupt: bool) -> None:
    api = kubernetes.client.ApiClient(kube.kube_config())
    core = kubernetes.client.CoreV1Api(api)
    outcome: list[object] = []
    connected = threading.Event()

    def consume() -> None:
        try:
            watcher = kubernetes.watch.Watch()
            for _ in watcher.stream(core.list_namespace, timeout_seconds=30, allow_watch_bookmarks=True):
                connected.set()
            outcome.append("ended")
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    assert connected.wait(5)
    kube.kill_watches(abrupt=abrupt)
    thread.join(5)
    assert not thread.is_alive()
    if abrupt:
        assert isinstance(outcome[0], Exception)
    else:
        assert outcome == ["ended"]
    api.close()
