"""Server-side apply, managedFields and the classic patch flavours, through the official client."""

from __future__ import annotations

import json
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from starform_testkit.kube_testserver import KubeTestServer

from .helpers import APPLY, deployment, raw_request


def _apply(
    apps: kubernetes.client.AppsV1Api, body: dict[str, Any], *, manager: str = "shuttle", force: bool = False
) -> Any:
    return apps.patch_namespaced_deployment(
        body["metadata"]["name"],
        body["metadata"]["namespace"],
        body,
        field_manager=manager,
        force=force,
        _content_type=APPLY,
    )


def _managed(kube: KubeTestServer, ns: str, name: str = "web") -> dict[tuple[str, str, str], dict[str, Any]]:
    """The managedFields entries by (manager, operation, subresource), as the server keeps them."""
    obj = kube.get("apps/v1", "Deployment", name, namespace=ns)
    assert obj is not None
    entries = obj["metadata"]["managedFields"]
    keyed = {(m["manager"], m["operation"], m.get("subresource", "")): m for m in entries}
    assert len(keyed) == len(entries)
    return keyed


def test_client_sends_apply_content_type(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    kube.clear_request_log()
    created = _apply(apps, deployment("web", ns), force=True)
    assert created.metadata.name == "web"
    (record,) = kube.requests.filter(verb="patch", resource="deployments")
    assert record.content_type.startswith(APPLY)
    assert record.field_manager == "shuttle"
    assert record.query["force"].lower() == "true"
    assert record.status == 201


def test_apply_managed_fields_have_the_real_shape(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "1"}]))
    entry = _managed(kube, ns)[("shuttle", "Apply", "")]
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert "subresource" not in entry
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"app"}': {
                            ".": {},
                            "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":8080,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                },
            },
        },
    }
    managed = _managed(kube, ns)
    assert ("kube-controller-manager", "Update", "") not in managed
    # the deployment controller writes the revision annotation with the status (UpdateStatus)
    status_entry = managed[("kube-controller-manager", "Update", "status")]
    assert set(status_entry["fieldsV1"]) == {"f:metadata", "f:status"}
    assert status_entry["fieldsV1"]["f:metadata"] == {
        "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}
    }


def test_update_operations_record_the_user_agent_manager(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    creator = _managed(kube, ns)[("OpenAPI-Generator", "Update", "")]
    spec = creator["fieldsV1"]["f:spec"]
    assert "f:replicas" in spec
    assert "f:progressDeadlineSeconds" in spec
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 4}}, field_manager="kubectl-edit")
    managed = _managed(kube, ns)
    assert managed[("kubectl-edit", "Update", "")]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in managed[("OpenAPI-Generator", "Update", "")]["fieldsV1"]["f:spec"]


def test_apply_update_is_a_noop_when_nothing_changes(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    first = _apply(apps, deployment("web", ns))
    rv = kube.get("apps/v1", "Deployment", "web", namespace=ns)["metadata"]["resourceVersion"]  # type: ignore[index]
    again = _apply(apps, deployment("web", ns))
    assert again.metadata.resource_version == rv
    assert again.metadata.generation == first.metadata.generation


def test_apply_conflict_and_force(kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    _apply(apps, deployment("web", ns, replicas=2))
    kube.patch_as(
        "kubectl-edit",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 5},
        },
    )
    with pytest.raises(ApiException) as err:
        _apply(apps, deployment("web", ns, replicas=2))
    body = json.loads(err.value.body)
    assert err.value.status == 409
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-edit" using apps/v1',
            "field": ".spec.replicas",
        }
    ]
    same_value = deployment("web", ns, replicas=5)
    shared = _apply(apps, same_value)
    assert shared.spec.replicas == 5
    managed = _managed(kube, ns)
    assert "f:replicas" in managed[("kubectl-edit", "Update", "")]["fieldsV1"]["f:spec"]
    forced = _apply(apps, deployment("web", ns, replicas=3), force=True)
    assert forced.spec.replicas == 3
    assert ("kubectl-edit", "Update", "") not in _managed(kube, ns)


def test_apply_conflicts_with_an_autoscaler(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    _apply(apps, deployment("web", ns, replicas=2))
    kubernetes.client.AutoscalingV2Api(apps.api_client).create_namespaced_horizontal_pod_autoscaler(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "minReplicas": 2,
                "maxReplicas": 6,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            },
        },
    )
    scaled = kube.autoscale(ns, "web", 4)
    assert scaled["spec"]["replicas"] == 4
    entry = _managed(kube, ns)[("kube-controller-manager", "Update", "scale")]
    assert entry["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    with pytest.raises(ApiException) as err:
        _apply(apps, deployment("web", ns, replicas=2))
    assert 'with subresource "scale"' in json.loads(err.value.body)["message"]
    without_replicas = _apply(apps, deployment("web", ns, replicas=None))
    assert without_replicas.spec.replicas == 4
    assert len(kube.list("v1", "Pod", namespace=ns)) == 4


def test_apply_removes_fields_no_longer_applied(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    _apply(
        apps,
        deployment(
            "web", ns, env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], labels={"team": "x"}
        ),
    )
    trimmed = _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "1"}]))
    env = trimmed.spec.template.spec.containers[0].env
    assert [e.name for e in env] == ["A"]
    assert "team" not in trimmed.metadata.labels
    kube.patch_as(
        "kubectl-label",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns, "labels": {"owner": "ops"}},
        },
    )
    _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "1"}], labels={"owner": "ops"}))
    kept = _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "1"}]))
    assert kept.metadata.labels["owner"] == "ops"


def test_apply_merges_associative_lists_with_other_managers(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "1"}]))
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy:1.30"}]}}},
    }
    kube.apply_as("mesh-injector", sidecar)
    obj = apps.read_namespaced_deployment("web", ns)
    assert [c.name for c in obj.spec.template.spec.containers] == ["app", "proxy"]
    again = _apply(apps, deployment("web", ns, env=[{"name": "A", "value": "2"}]))
    assert [c.name for c in again.spec.template.spec.containers] == ["app", "proxy"]
    assert again.spec.template.spec.containers[0].env[0].value == "2"


def test_apply_requires_field_manager(kube: KubeTestServer, ns: str) -> None:
    code, body = raw_request(
        kube.url,
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/web",
        deployment("web", ns),
        content_type=APPLY,
    )
    assert code == 422
    assert body["kind"] == "Status"
    assert "fieldManager" in body["message"]


def test_strategic_merge_patch_merges_by_keys(
    core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, env=[{"name": "A", "value": "1"}]))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "env": [{"name": "B", "value": "2"}], "image": "nginx:1.26"},
                        {"name": "side", "image": "busybox:1"},
                    ]
                }
            }
        }
    }
    api = apps.api_client
    patched = apps.patch_namespaced_deployment(
        "web", ns, patch, _content_type="application/strategic-merge-patch+json"
    )
    containers = patched.spec.template.spec.containers
    assert [c.name for c in containers] == ["app", "side"]
    assert [e.name for e in containers[0].env] == ["A", "B"]
    assert containers[0].image == "nginx:1.26"
    assert containers[0].ports[0].container_port == 8080
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}}
    trimmed = apps.patch_namespaced_deployment(
        "web", ns, delete, _content_type="application/strategic-merge-patch+json"
    )
    assert [c.name for c in trimmed.spec.template.spec.containers] == ["app"]
    core.create_namespaced_service(
        ns, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80, "name": "http"}]}}
    )
    svc = core.patch_namespaced_service(
        "svc",
        ns,
        {"spec": {"ports": [{"port": 443, "name": "https"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert sorted(p.port for p in svc.spec.ports) == [80, 443]
    assert api is not None


def test_json_patch_and_merge_patch(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}})
    merged = core.patch_namespaced_config_map(
        "cm", ns, {"data": {"a": None, "c": "3"}}, _content_type="application/merge-patch+json"
    )
    assert merged.data == {"b": "2", "c": "3"}
    patched = core.patch_namespaced_config_map(
        "cm",
        ns,
        [{"op": "replace", "path": "/data/b", "value": "20"}],
        _content_type="application/json-patch+json",
    )
    assert patched.data["b"] == "20"
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "cm",
            ns,
            [{"op": "test", "path": "/data/b", "value": "nope"}],
            _content_type="application/json-patch+json",
        )
    assert err.value.status == 422


def test_apply_to_status_subresource(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    kube.set_controllers_enabled(False)
    try:
        _apply(apps, deployment("web", ns))
        status = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "status": {"observedGeneration": 1, "replicas": 2},
        }
        result = apps.patch_namespaced_deployment_status(
            "web", ns, status, field_manager="my-controller", _content_type=APPLY
        )
        assert result.status.replicas == 2
        entry = _managed(kube, ns)[("my-controller", "Apply", "status")]
        assert entry["fieldsV1"] == {"f:status": {"f:observedGeneration": {}, "f:replicas": {}}}
    finally:
        kube.set_controllers_enabled(True)


def test_an_apply_with_an_undeclared_field_is_refused_before_merging_as_kube_apiserver_does(
    kube: KubeTestServer, ns: str
) -> None:
    body = deployment("typo", ns)
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    status, answer = raw_request(
        kube.url,
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/typo?fieldManager=shuttle",
        body,
        content_type=APPLY,
    )
    assert status == 500 and "reason" not in answer
    assert answer["message"] == (
        f"failed to create typed patch object ({ns}/typo; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="app"].imagePullPolicyy: field not declared in schema'
    )
    assert kube.get("apps/v1", "Deployment", "typo", namespace=ns) is None
