"""The Kubernetes adapter's list-then-watch cache against the test server, through the official client."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from starform_adapters.kubernetes import KubeApi, ResourceType, WatchCache
from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE, OWNERSHIP_SELECTOR
from starform_testkit.kube_testserver import KubeTestServer

CONFIGMAPS = ResourceType("", "v1", "ConfigMap", "configmaps")


def _configmap(name: str, *, owned: bool = True, value: str = "1") -> dict[str, object]:
    labels = {LABEL_MANAGED_BY: MANAGED_BY_VALUE} if owned else {"team": "someone-else"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "demo", "labels": labels},
        "data": {"value": value},
    }


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    with KubeTestServer(controllers=False) as server:
        server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        yield server


@pytest.fixture
def cache(kube: KubeTestServer) -> Iterator[tuple[WatchCache, list[str]]]:
    restarts: list[str] = []
    configuration = kube.kube_config()
    configuration.retries = 0
    api = KubeApi(configuration)
    watch_cache = WatchCache(
        api,
        [CONFIGMAPS],
        label_selector=OWNERSHIP_SELECTOR,
        watch_timeout_seconds=30,
        on_restart=restarts.append,
    )
    watch_cache.start()
    assert watch_cache.wait_synced(10)
    # the watch follows the LIST at once; a test that kills it must find it open
    kube.wait_for(lambda: kube.requests.watches(), timeout=10, message="the watch after the LIST")
    yield watch_cache, restarts
    watch_cache.stop()
    api.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("watch-ConfigMap")]


def _names(cache: WatchCache) -> set[str]:
    return {str(obj["metadata"]["name"]) for obj in cache.snapshot()}


def test_lists_once_then_follows_changes_by_watch_only(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, _ = cache
    kube.clear_request_log()
    kube.apply_as("shuttle", _configmap("a"))
    kube.apply_as("someone", _configmap("foreign", owned=False))
    kube.wait_for(lambda: _names(watch_cache) == {"a"}, timeout=10, message="the ADDED event")
    revision = watch_cache.revision()
    kube.apply_as("shuttle", _configmap("a", value="2"))
    kube.wait_for(
        lambda: watch_cache.snapshot()[0]["data"]["value"] == "2", timeout=10, message="the MODIFIED event"
    )
    assert watch_cache.revision() > revision
    kube.delete("v1", "ConfigMap", "a", namespace="demo")
    kube.wait_for(lambda: _names(watch_cache) == set(), timeout=10, message="the DELETED event")
    assert kube.requests.lists() == [], "changes arrive by watch, never by LIST"


def test_a_resume_answered_410_gone_relists(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, restarts = cache
    kube.apply_as("shuttle", _configmap("before"))
    kube.wait_for(lambda: "before" in _names(watch_cache), timeout=10, message="the first object")
    kube.set_watch_history(2)
    # the next watch request (the resume) is held at the server while more changes happen than it
    # keeps, so it resumes from a version that is gone: the server answers with a 410 ERROR event
    kube.inject("delay", verbs=["watch"], delay_seconds=1.0, max_times=1)
    kube.clear_request_log()
    kube.kill_watches()
    for index in range(10):
        kube.apply_as("shuttle", _configmap(f"burst-{index}"))
    kube.delete("v1", "ConfigMap", "before", namespace="demo")
    expected = {f"burst-{index}" for index in range(10)}
    kube.wait_for(lambda: _names(watch_cache) == expected, timeout=15, message="the cache to catch up")
    assert restarts == ["ConfigMap"], "the 410 was counted as one restart"
    assert len(kube.requests.lists()) == 1, "one relist repaired the cache"


def test_a_dropped_connection_resumes_the_watch_without_a_relist(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, restarts = cache
    kube.apply_as("shuttle", _configmap("before-drop"))
    kube.wait_for(lambda: _names(watch_cache) == {"before-drop"}, timeout=10, message="the first object")
    kube.clear_request_log()
    kube.kill_watches(abrupt=True)
    kube.apply_as("shuttle", _configmap("after-drop"))
    kube.wait_for(
        lambda: _names(watch_cache) == {"before-drop", "after-drop"},
        timeout=15,
        message="the cache to recover",
    )
    resumed = kube.requests.watches()
    assert resumed, "a new watch replaced the dropped one"
    assert all(r.query.get("resourceVersion") not in (None, "", "0") for r in resumed), "it resumed"
    assert kube.requests.lists() == [], "the version was still good: no LIST"
    assert restarts == ["ConfigMap"], "the break is counted as one restart"


def test_a_refused_watch_is_retried_from_the_same_version(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, restarts = cache
    kube.inject("throttle", verbs=["watch"], retry_after=0, max_times=2)
    kube.clear_request_log()
    kube.kill_watches()
    kube.apply_as("shuttle", _configmap("after-throttle"))
    kube.wait_for(
        lambda: _names(watch_cache) == {"after-throttle"}, timeout=15, message="the cache to catch up"
    )
    versions = {r.query.get("resourceVersion") for r in kube.requests.watches()}
    assert len(kube.requests.watches()) >= 3 and len(versions) == 1, "every retry asked for the same version"
    assert kube.requests.lists() == []
    assert restarts == ["ConfigMap", "ConfigMap"]


def test_an_error_answer_to_the_watch_relists(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, restarts = cache
    kube.inject("error", status=500, verbs=["watch"], max_times=1)
    kube.clear_request_log()
    kube.kill_watches()
    kube.apply_as("shuttle", _configmap("after-error"))
    kube.wait_for(lambda: _names(watch_cache) == {"after-error"}, timeout=15, message="the cache to catch up")
    assert len(kube.requests.lists()) == 1
    assert restarts == ["ConfigMap"]


def test_a_write_answer_never_replaces_a_newer_watched_version(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, _ = cache
    first = kube.apply_as("shuttle", _configmap("raced"))
    kube.apply_as("shuttle", _configmap("raced", value="newer"))
    kube.wait_for(
        lambda: any(o["data"]["value"] == "newer" for o in watch_cache.snapshot()),
        timeout=10,
        message="newer",
    )
    watch_cache.record(first)  # a late answer to the first write
    assert [o["data"]["value"] for o in watch_cache.snapshot()] == ["newer"]


def test_relist_replaces_a_stale_view_with_what_the_api_holds_now(
    kube: KubeTestServer, cache: tuple[WatchCache, list[str]]
) -> None:
    watch_cache, _ = cache
    kube.apply_as("shuttle", _configmap("kept"))
    gone = kube.apply_as("shuttle", _configmap("gone"))
    kube.wait_for(lambda: _names(watch_cache) == {"kept", "gone"}, timeout=10, message="both ADDED")
    kube.delete("v1", "ConfigMap", "gone", namespace="demo")
    kube.wait_for(lambda: _names(watch_cache) == {"kept"}, timeout=10, message="the DELETED event")
    # a view that missed the deletion (a write answer recorded late, a lost event): relist heals it
    watch_cache.record(gone)
    phantom = _configmap("phantom")
    phantom["metadata"]["resourceVersion"] = "1"  # type: ignore[index]
    watch_cache.record(phantom)
    assert _names(watch_cache) == {"kept", "gone", "phantom"}
    kube.clear_request_log()
    revision = watch_cache.revision()
    watch_cache.relist()
    assert _names(watch_cache) == {"kept"}, "objects the API no longer holds leave the view"
    assert len(kube.requests.lists()) == 1, "one LIST per kind"
    assert watch_cache.revision() > revision
    kube.apply_as("shuttle", _configmap("after"))
    kube.wait_for(lambda: _names(watch_cache) == {"kept", "after"}, timeout=10, message="the watch goes on")
