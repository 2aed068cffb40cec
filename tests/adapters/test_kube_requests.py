"""The Kubernetes adapter counts every request the API server saw, by verb, kind and code, and
names a transport failure as its own code; writes carry the caller's Audit-ID."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from kubernetes.client import Configuration

from starform_adapters.kubernetes import KubeApi
from starform_adapters.kubernetes.api import TRANSPORT_ERROR, request_labels
from starform_adapters.kubernetes.resources import kind_for_path
from starform_core.errors import ClusterApiError, ClusterUnavailableError
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.kube_testserver.requestlog import RequestRecord

CONFIGMAPS = "/api/v1/namespaces/demo/configmaps"


class Observed:
    """The observer: (verb, kind, code) of every request, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: Counter[tuple[str, str, str]] = Counter()

    def __call__(self, verb: str, kind: str, code: str) -> None:
        with self._lock:
            self.seen[(verb, kind, code)] += 1


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    with KubeTestServer(controllers=False) as server:
        server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        server.clear_request_log()
        yield server


def _server_view(record: RequestRecord) -> tuple[str, str, str]:
    kind, _ = kind_for_path(record.path)
    dropped = record.fault == "drop" and record.verb != "watch"
    return (record.verb, kind, TRANSPORT_ERROR if dropped else str(record.status))


def _configmap(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "demo"},
        "data": {},
    }


def test_every_verb_is_counted_as_the_server_logged_it(kube: KubeTestServer) -> None:
    observed = Observed()
    api = KubeApi(kube.kube_config(), observer=observed)
    try:
        api.apply(
            f"{CONFIGMAPS}/a", _configmap("a"), field_manager="shuttle", force=False, request_id="req-1"
        )
        api.get(f"{CONFIGMAPS}/a")
        api.list(CONFIGMAPS)
        with pytest.raises(ClusterApiError):
            api.get(f"{CONFIGMAPS}/missing")
        stream = api.watch(CONFIGMAPS, resource_version="0", timeout_seconds=1)
        stream.close()
        api.delete(f"{CONFIGMAPS}/a", request_id="req-2")
    finally:
        api.close()
    server = Counter(_server_view(r) for r in kube.requests.records())
    assert observed.seen == server
    assert observed.seen[("list", "ConfigMap", "200")] == 1, "a LIST is a list, not a get"
    assert observed.seen[("get", "ConfigMap", "404")] == 1
    assert observed.seen[("watch", "ConfigMap", "200")] == 1
    writes = {r.verb: r.audit_id for r in kube.requests.writes()}
    assert writes == {"patch": "req-1", "delete": "req-2"}


def test_a_connection_dropped_after_the_head_is_a_transport_error_not_a_200(kube: KubeTestServer) -> None:
    observed = Observed()
    api = KubeApi(kube.kube_config(), observer=observed)
    kube.inject("drop", methods=["PATCH"], max_times=1)
    try:
        with pytest.raises(ClusterUnavailableError) as caught:
            api.apply(f"{CONFIGMAPS}/b", _configmap("b"), field_manager="shuttle", force=False)
    finally:
        api.close()
    assert caught.value.status == 0, "status 0: the outcome is unknown"
    (record,) = kube.requests.records()
    assert (record.status, record.fault) == (200, "drop"), "the server sent a 200 head, then dropped"
    assert observed.seen == Counter({("patch", "ConfigMap", TRANSPORT_ERROR): 1})


def test_attempts_urllib3_retries_are_counted_too() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    observed = Observed()
    api = KubeApi(Configuration(host=f"http://127.0.0.1:{port}"), observer=observed)
    try:
        with pytest.raises(ClusterUnavailableError):
            api.list("/apis/apps/v1/deployments")
    finally:
        api.close()
    assert observed.seen == Counter({("list", "Deployment", TRANSPORT_ERROR): 4}), (
        "the first try and 3 retries"
    )


@pytest.mark.parametrize(
    ("method", "url", "labels"),
    [
        ("GET", "http://h/api/v1/namespaces/x/pods", ("list", "Pod")),
        ("GET", "http://h/api/v1/namespaces/x/pods?watch=true&resourceVersion=1", ("watch", "Pod")),
        ("GET", "http://h/api/v1/namespaces/x/pods/p", ("get", "Pod")),
        ("GET", "http://h/api/v1/namespaces/x", ("get", "Namespace")),
        (
            "PATCH",
            "http://h/apis/apps/v1/namespaces/n/deployments/d?fieldManager=shuttle",
            ("patch", "Deployment"),
        ),
        (
            "DELETE",
            "http://h/apis/gateway.networking.k8s.io/v1/namespaces/n/httproutes/r",
            ("delete", "HTTPRoute"),
        ),
        ("GET", "http://h/apis/gateway.networking.k8s.io/v1", ("get", "discovery")),
    ],
)
def test_request_labels(method: str, url: str, labels: tuple[str, str]) -> None:
    assert request_labels(method, url) == labels
