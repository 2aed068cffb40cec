"""The handle itself: kubeconfig, direct store access, concurrency, lifecycle."""

from __future__ import annotations

import threading
from pathlib import Path

import kubernetes
import pytest

from starform_testkit.kube_testserver import KubeTestServer, KubeTestServerError


def test_write_kubeconfig_is_loadable(kube: KubeTestServer, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "config")
    api = kubernetes.config.new_client_from_config(config_file=str(path))
    try:
        names = [n.metadata.name for n in kubernetes.client.CoreV1Api(api).list_namespace().items]
        assert isinstance(names, list)
        assert api.configuration.host == kube.url
    finally:
        api.close()


def test_direct_access_bypasses_http(kube: KubeTestServer, ns: str) -> None:
    kube.clear_request_log()
    made = kube.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "d", "namespace": ns},
            "data": {"k": "v"},
        }
    )
    assert made["metadata"]["managedFields"][0]["manager"] == "kube-test-server"
    copy = kube.get("v1", "ConfigMap", "d", namespace=ns)
    assert copy is not None
    copy["data"] = {"mutated": "locally"}
    assert (kube.get("v1", "ConfigMap", "d", namespace=ns) or {})["data"] == {"k": "v"}
    assert [o["metadata"]["name"] for o in kube.list("v1", "ConfigMap", namespace=ns)] == ["d"]
    assert kube.delete("v1", "ConfigMap", "d", namespace=ns)
    assert not kube.delete("v1", "ConfigMap", "d", namespace=ns)
    assert kube.requests.records() == []
    with pytest.raises(KubeTestServerError):
        kube.get("example.com/v1", "Widget", "x")


def test_concurrent_writers_get_unique_resource_versions(kube: KubeTestServer, ns: str) -> None:
    versions: list[int] = []
    lock = threading.Lock()

    def writer(worker: int) -> None:
        api = kubernetes.client.ApiClient(kube.kube_config())
        core = kubernetes.client.CoreV1Api(api)
        try:
            for i in range(15):
                made = core.create_namespaced_config_map(ns, {"metadata": {"name": f"w{worker}-{i}"}})
                with lock:
                    versions.append(int(made.metadata.resource_version))
        finally:
            api.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(versions) == 60
    assert len(set(versions)) == 60


def test_start_twice_is_an_error_and_stop_is_idempotent() -> None:
    server = KubeTestServer(controllers=False)
    server.start()
    try:
        with pytest.raises(KubeTestServerError):
            server.start()
    finally:
        server.stop()
    server.stop()


def test_wait_for_times_out_with_a_clear_error(kube: KubeTestServer) -> None:
    with pytest.raises(KubeTestServerError, match="never"):
        kube.wait_for(lambda: None, timeout=0.02, message="never")
