"""CRUD, error shapes, selectors, concurrency, dry-run, cascades, defaults and validation."""

from __future__ import annotations

import json

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from starform_testkit.kube_testserver import KubeTestServer

from .helpers import deployment, raw_request


def _status(exc: ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(exc.body)
    return body


def test_create_get_replace_delete_configmap(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.generation is None, "ConfigMaps have no generation on kube-apiserver"
    assert created.metadata.creation_timestamp
    got = core.read_namespaced_config_map("cfg", ns)
    assert got.data == {"a": "1"}
    got.data["a"] = "2"
    replaced = core.replace_namespaced_config_map("cfg", ns, got)
    assert replaced.data == {"a": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    status = core.delete_namespaced_config_map("cfg", ns)
    assert status["status"] == "Success"
    assert status["details"]["name"] == "cfg"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("cfg", ns)
    assert err.value.status == 404


def test_not_found_and_already_exists_are_status_objects(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.read_namespaced_secret("missing", ns)
    body = _status(err.value)
    assert err.value.status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["code"] == 404
    assert body["message"] == 'secrets "missing" not found'
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    body = _status(err.value)
    assert err.value.status == 409
    assert body["reason"] == "AlreadyExists"
    assert body["details"] == {"name": "s", "kind": "secrets"}  # Go omits the empty (core) group


def test_create_in_missing_namespace_is_404(core: kubernetes.client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("nope", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert _status(err.value)["message"] == 'namespaces "nope" not found'


def test_label_and_field_selectors(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    for name, labels in {
        "a": {"env": "prod", "tier": "web"},
        "b": {"env": "staging", "tier": "web"},
        "c": {"env": "dev"},
    }.items():
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": labels}})

    def names(**kwargs: str) -> list[str]:
        return [i.metadata.name for i in core.list_namespaced_config_map(ns, **kwargs).items]

    assert names(label_selector="env=prod") == ["a"]
    assert names(label_selector="env==prod") == ["a"]
    assert names(label_selector="env!=prod") == ["b", "c"]
    assert names(label_selector="env in (prod, staging)") == ["a", "b"]
    assert names(label_selector="env notin (prod)") == ["b", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(label_selector="tier=web,env!=prod") == ["b"]
    assert names(field_selector="metadata.name=c") == ["c"]
    assert names(field_selector="metadata.name!=c") == ["a", "b"]
    assert names(field_selector=f"metadata.namespace={ns}") == ["a", "b", "c"]
    listed = core.list_namespaced_config_map(ns)
    assert int(listed.metadata.resource_version) >= 1


def test_cluster_wide_lists_and_pagination(
    core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    other = f"{ns}-other"
    core.create_namespace({"metadata": {"name": other}})
    for space in (ns, other):
        apps.create_namespaced_deployment(space, deployment("web", space, replicas=0))
    everywhere = apps.list_deployment_for_all_namespaces(label_selector="app=web")
    spaces = {d.metadata.namespace for d in everywhere.items}
    assert {ns, other} <= spaces
    page = core.list_namespace(limit=1)
    assert len(page.items) == 1
    assert page.metadata._continue
    rest = core.list_namespace(_continue=page.metadata._continue)
    assert page.items[0].metadata.name not in {n.metadata.name for n in rest.items}


def test_list_items_omit_kind_like_a_real_server(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "x"}})
    code, body = raw_request(kube.url, "GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert code == 200
    assert body["kind"] == "ConfigMapList"
    assert body["apiVersion"] == "v1"
    assert "kind" not in body["items"][0]


def test_optimistic_concurrency(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"v": "0"}})
    first = core.read_namespaced_config_map("cm", ns)
    second = core.read_namespaced_config_map("cm", ns)
    first.data["v"] = "1"
    core.replace_namespaced_config_map("cm", ns, first)
    second.data["v"] = "2"
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", ns, second)
    assert err.value.status == 409
    body = _status(err.value)
    assert body["reason"] == "Conflict"
    assert "the object has been modified" in str(body["message"])
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("cm", ns, {"metadata": {"resourceVersion": "1"}, "data": {"v": "3"}})
    assert err.value.status == 409


def test_noop_update_keeps_resource_version(core: kubernetes.client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    same = core.patch_namespaced_config_map("cm", ns, {"data": {"a": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


def test_dry_run_writes_nothing(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    before = kube.resource_version
    made = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}}, dry_run="All")
    assert made.metadata.name == "dry"
    assert made.metadata.uid
    assert kube.get("v1", "ConfigMap", "dry", namespace=ns) is None
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    rv = kube.resource_version
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 5}}, dry_run="All")
    apps.patch_namespaced_deployment(
        "web",
        ns,
        deployment("web", ns, replicas=7),
        field_manager="shuttle",
        force=True,
        dry_run="All",
        _content_type="application/apply-patch+yaml",
    )
    apps.delete_namespaced_deployment("web", ns, dry_run="All")
    assert kube.resource_version == rv > before
    assert kube.get("apps/v1", "Deployment", "web", namespace=ns)["spec"]["replicas"] == 2  # type: ignore[index]
    dry = [r for r in kube.requests.writes() if r.dry_run]
    assert len(dry) == 4


def test_namespace_deletion_cascades(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    assert kube.list("v1", "Pod", namespace=ns)
    core.delete_namespace(ns)
    for api_version, kind in (
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "Pod"),
        ("v1", "Secret"),
    ):
        assert kube.list(api_version, kind, namespace=ns) == []
    with pytest.raises(ApiException) as err:
        core.read_namespace(ns)
    assert err.value.status == 404


def test_deployment_deletion_collects_replicasets_and_pods(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=3))
    assert len(kube.list("v1", "Pod", namespace=ns)) == 3
    apps.delete_namespaced_deployment("web", ns, propagation_policy="Foreground")
    assert kube.list("apps/v1", "ReplicaSet", namespace=ns) == []
    assert kube.list("v1", "Pod", namespace=ns) == []


def test_orphan_propagation_keeps_dependents(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    kube.set_controllers_enabled(False)
    try:
        apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=1))
        kube.run_controllers()
        apps.delete_namespaced_deployment("web", ns, propagation_policy="Orphan")
        (rs,) = kube.list("apps/v1", "ReplicaSet", namespace=ns)
        assert "ownerReferences" not in rs["metadata"]
    finally:
        kube.set_controllers_enabled(True)


def test_server_side_defaults(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    manifest = deployment("web", ns, image="nginx", replicas=None)
    made = apps.create_namespaced_deployment(ns, manifest)
    spec = made.spec
    assert spec.replicas == 1
    assert spec.revision_history_limit == 10
    assert spec.progress_deadline_seconds == 600
    assert spec.strategy.type == "RollingUpdate"
    assert spec.strategy.rolling_update.max_surge == "25%"
    assert spec.strategy.rolling_update.max_unavailable == "25%"
    pod = spec.template.spec
    assert pod.restart_policy == "Always"
    assert pod.dns_policy == "ClusterFirst"
    assert pod.scheduler_name == "default-scheduler"
    assert pod.termination_grace_period_seconds == 30
    container = pod.containers[0]
    assert container.image_pull_policy == "Always"
    assert container.termination_message_path == "/dev/termination-log"
    assert container.termination_message_policy == "File"
    assert container.ports[0].protocol == "TCP"
    raw = kube.get("apps/v1", "Deployment", "web", namespace=ns)
    assert raw is not None
    assert raw["spec"]["template"]["spec"]["securityContext"] == {}
    svc = core.create_namespaced_service(
        ns, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )
    assert svc.spec.type == "ClusterIP"
    assert svc.spec.session_affinity == "None"
    assert svc.spec.ports[0].protocol == "TCP"
    assert svc.spec.ports[0].target_port == 80
    assert svc.spec.cluster_ip
    assert svc.spec.cluster_ips == [svc.spec.cluster_ip]
    assert svc.spec.ip_families == ["IPv4"]
    assert svc.spec.ip_family_policy == "SingleStack"
    assert svc.spec.internal_traffic_policy == "Cluster"
    secret = core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    assert secret.type == "Opaque"
    namespace = core.read_namespace(ns)
    assert namespace.metadata.labels["kubernetes.io/metadata.name"] == ns
    assert namespace.spec.finalizers == ["kubernetes"]
    pvc = core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert pvc.spec.volume_mode == "Filesystem"
    batch = kubernetes.client.BatchV1Api(apps.api_client)
    cron = batch.create_namespaced_cron_job(
        ns,
        {
            "metadata": {"name": "c"},
            "spec": {
                "schedule": "*/5 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "busybox:1"}],
                            }
                        }
                    }
                },
            },
        },
    )
    assert cron.spec.concurrency_policy == "Allow"
    assert cron.spec.suspend is False
    assert cron.spec.successful_jobs_history_limit == 3
    assert cron.spec.failed_jobs_history_limit == 1
    hpa = kubernetes.client.AutoscalingV2Api(apps.api_client).create_namespaced_horizontal_pod_autoscaler(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "maxReplicas": 5,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            },
        },
    )
    assert hpa.spec.min_replicas == 1
    assert hpa.spec.metrics[0].resource.name == "cpu"


def test_defaults_are_owned_by_nobody_under_apply(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.patch_namespaced_deployment(
        "web",
        ns,
        deployment("web", ns),
        field_manager="shuttle",
        _content_type="application/apply-patch+yaml",
    )
    obj = kube.get("apps/v1", "Deployment", "web", namespace=ns)
    assert obj is not None
    (entry,) = [m for m in obj["metadata"]["managedFields"] if m["operation"] == "Apply"]
    spec = entry["fieldsV1"]["f:spec"]
    assert "f:revisionHistoryLimit" not in spec
    assert "f:strategy" not in spec
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert "f:imagePullPolicy" not in container


def test_schema_rejection_is_422_naming_the_field(
    kube: KubeTestServer,
    core: kubernetes.client.CoreV1Api,
    apps: kubernetes.client.AppsV1Api,
    ns: str,
) -> None:
    bad = deployment("web", ns)
    bad["spec"]["replicas"] = "three"
    code, body = raw_request(kube.url, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", bad)
    assert code == 422
    assert body["reason"] == "Invalid"
    assert body["kind"] == "Status"
    assert any(c["field"] == "spec.replicas" for c in body["details"]["causes"])
    assert 'Deployment.apps "web" is invalid: spec.replicas' in body["message"]
    unknown = deployment("web", ns)
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "x"
    code, body = raw_request(
        kube.url, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments?fieldValidation=Strict", unknown
    )
    assert code == 400, "an unknown field is a decoding error, before validation"
    assert 'unknown field "spec.template.spec.containers[0].imagePolicy"' in body["message"]
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "Bad_Name"}})
    assert err.value.status == 422
    assert _status(err.value)["details"]["causes"][0]["field"] == "metadata.name"  # type: ignore[index]
    mismatch = deployment("web", ns)
    mismatch["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(ns, mismatch)
    assert err.value.status == 422


def test_deployment_selector_is_immutable(apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    changed = deployment("web", ns, labels={"x": "y"})
    changed["spec"]["selector"]["matchLabels"]["x"] = "y"
    changed["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", ns, changed)
    assert err.value.status == 422
    assert "spec.selector" in _status(err.value)["message"]  # type: ignore[operator]


def test_generation_moves_on_spec_changes_only(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    kube.set_controllers_enabled(False)
    try:
        _generation_checks(apps, ns)
    finally:
        kube.set_controllers_enabled(True)


def _generation_checks(apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    made = apps.create_namespaced_deployment(ns, deployment("web", ns))
    assert made.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"x": "1"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2
    annotated = apps.patch_namespaced_deployment("web", ns, {"metadata": {"annotations": {"x": "1"}}})
    assert annotated.metadata.generation == 3, "a Deployment's annotations move its generation"
    status_write = apps.patch_namespaced_deployment_status("web", ns, {"status": {"replicas": 99}})
    assert status_write.metadata.generation == 3
    assert status_write.status.replicas == 99
    ignored = apps.patch_namespaced_deployment("web", ns, {"status": {"replicas": 1}})
    assert ignored.status.replicas == 99


def test_status_subresource_ignores_spec(apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=0))
    result = apps.patch_namespaced_deployment_status(
        "web", ns, {"spec": {"replicas": 9}, "status": {"observedGeneration": 7}}
    )
    assert result.spec.replicas == 0
    assert result.status.observed_generation == 7


def test_discovery_and_dynamic_client(kube: KubeTestServer, tmp_path: object, ns: str) -> None:
    from kubernetes.dynamic import DynamicClient

    api = kubernetes.client.ApiClient(kube.kube_config())
    try:
        dyn = DynamicClient(api, cache_file=f"{tmp_path}/discovery.json")
        deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        assert deployments.namespaced
        assert deployments.name == "deployments"
        made = deployments.create(body=deployment("dyn", ns, replicas=0), namespace=ns)
        assert made.metadata.name == "dyn"
        listed = deployments.get(namespace=ns)
        assert [i.metadata.name for i in listed.items] == ["dyn"]
        netpol = dyn.resources.get(api_version="networking.k8s.io/v1", kind="NetworkPolicy")
        policy = netpol.create(
            body={
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "iso"},
                "spec": {"podSelector": {}},
            },
            namespace=ns,
        )
        assert policy.spec.policyTypes == ["Ingress"]
        version = kubernetes.client.VersionApi(api).get_code()
        assert version.major == "1"
        assert version.minor == "37"
        groups = {g.name for g in kubernetes.client.ApisApi(api).get_api_versions().groups}
        assert {"apps", "batch", "rbac.authorization.k8s.io", "autoscaling"} <= groups
        assert "gateway.networking.k8s.io" not in groups
    finally:
        api.close()


HTTPROUTE = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "route"},
    "spec": {
        "parentRefs": [{"name": "gw", "namespace": "infra"}],
        "hostnames": ["app.example.com"],
        "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
    },
}


def test_httproute_crd_missing_then_installed(kube: KubeTestServer, ns: str) -> None:
    api = kubernetes.client.ApiClient(kube.kube_config())
    custom = kubernetes.client.CustomObjectsApi(api)
    args = ("gateway.networking.k8s.io", "v1", ns, "httproutes")
    try:
        with pytest.raises(ApiException) as err:
            custom.list_namespaced_custom_object(*args)
        assert err.value.status == 404
        code, _ = raw_request(kube.url, "GET", "/apis/gateway.networking.k8s.io/v1")
        assert code == 404
        kube.install_gateway_api_crd()
        made = custom.create_namespaced_custom_object(*args, body=dict(HTTPROUTE))
        rule = made["spec"]["rules"][0]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
        assert rule["backendRefs"][0]["weight"] == 1
        assert made["spec"]["parentRefs"][0]["kind"] == "Gateway"
        bad = json.loads(json.dumps(HTTPROUTE))
        bad["metadata"]["name"] = "bad"
        bad["spec"]["hostnames"] = ["not a hostname!"]
        with pytest.raises(ApiException) as err:
            custom.create_namespaced_custom_object(*args, body=bad)
        assert err.value.status == 422
        applied = custom.patch_namespaced_custom_object(
            *args[:3],
            "httproutes",
            "route",
            body=dict(HTTPROUTE),
            field_manager="shuttle",
            _content_type="application/apply-patch+yaml",
        )
        assert applied["metadata"]["managedFields"][0]["manager"] == "shuttle"
    finally:
        kube.uninstall_gateway_api_crd()
        api.close()


def test_request_log_counts_calls(kube: KubeTestServer, core: kubernetes.client.CoreV1Api, ns: str) -> None:
    kube.clear_request_log()
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    core.read_namespaced_config_map("a", ns)
    core.list_namespaced_config_map(ns)
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "v"}})
    assert kube.requests.count(verb="create", resource="configmaps") == 1
    assert len(kube.requests.lists()) == 1
    assert len(kube.requests.writes()) == 2
    (patch,) = kube.requests.filter(verb="patch")
    assert patch.field_manager == "OpenAPI-Generator"
    assert (
        patch.content_type.startswith("application/merge-patch+json")
        or patch.content_type.startswith("application/json-patch+json")
        or patch.content_type.startswith("application/strategic-merge-patch+json")
    )
    kube.clear_request_log()
    core.read_namespaced_config_map("a", ns)
    assert kube.requests.writes() == []
    assert kube.requests.lists() == []


def test_a_status_write_may_set_annotations_but_not_labels_nor_spec(
    apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=1))
    before = apps.read_namespaced_deployment("web", ns)
    written = apps.patch_namespaced_deployment_status(
        "web",
        ns,
        {
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "9"}, "labels": {"x": "y"}},
            "spec": {"replicas": 5},
            "status": {"observedGeneration": 1},
        },
    )
    assert written.metadata.annotations["deployment.kubernetes.io/revision"] == "9"
    assert "x" not in (written.metadata.labels or {})
    assert written.spec.replicas == 1
    assert written.metadata.generation == before.metadata.generation, "a status write keeps the generation"


def test_a_created_object_starts_with_its_initial_status_and_admission_additions(
    core: kubernetes.client.CoreV1Api, ns: str
) -> None:
    claim = core.create_namespaced_persistent_volume_claim(
        ns,
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert claim.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    service = core.create_namespaced_service(
        ns, {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert service.status.to_dict() == {"conditions": None, "load_balancer": {"ingress": None}}
    pod = core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx:1.27"}]}}
    )
    assert (pod.status.phase, pod.status.qos_class) == ("Pending", "BestEffort")
    assert {(t.key, t.toleration_seconds) for t in pod.spec.tolerations} == {
        ("node.kubernetes.io/not-ready", 300),
        ("node.kubernetes.io/unreachable", 300),
    }


def test_probe_defaults_the_service_account_alias_and_go_zero_values(
    apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    body = deployment("web", ns)
    container = body["spec"]["template"]["spec"]["containers"][0]
    container.update(
        stdin=False,
        livenessProbe={"httpGet": {"port": 8080}, "initialDelaySeconds": 0},
        ports=[{"containerPort": 8080, "hostPort": 0}],
    )
    body["spec"]["template"]["spec"]["serviceAccountName"] = "web"
    status, stored = raw_request(
        apps.api_client.configuration.host, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body
    )
    assert status == 201
    pod_spec = stored["spec"]["template"]["spec"]
    assert pod_spec["serviceAccount"] == "web"
    live = pod_spec["containers"][0]
    assert live["livenessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }, "zero initialDelaySeconds is not serialized; the rest is defaulted"
    assert "stdin" not in live and live["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_a_new_job_selects_its_pods_by_its_uid(kube: KubeTestServer, ns: str) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "busybox:1"}]}
            }
        },
    }
    status, created = raw_request(kube.url, "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job)
    assert status == 201
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert created["spec"]["manualSelector"] is False
    assert created["spec"]["podReplacementPolicy"] == "TerminatingOrFailed"
    expected = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    }
    assert created["spec"]["template"]["metadata"]["labels"] == expected
    assert created["metadata"]["labels"] == expected, "a Job without labels takes its template's"


@pytest.mark.parametrize(
    ("mode", "status", "warning"),
    [
        (None, 201, '299 - "unknown field \\"spec.template.spec.containers[0].colour\\""'),
        ("Warn", 201, '299 - "unknown field \\"spec.template.spec.containers[0].colour\\""'),
        ("Ignore", 201, None),
        ("Strict", 400, None),
    ],
)
def test_field_validation_of_a_create_as_kube_apiserver_does_it(
    kube: KubeTestServer, ns: str, mode: str | None, status: int, warning: str | None
) -> None:
    import urllib.error
    import urllib.request

    body = deployment(f"fv-{(mode or 'default').lower()}", ns)
    body["spec"]["template"]["spec"]["containers"][0]["colour"] = "blue"
    query = f"?fieldValidation={mode}" if mode else ""
    request = urllib.request.Request(
        f"{kube.url}/apis/apps/v1/namespaces/{ns}/deployments{query}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answered, headers, payload = response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answered, headers, payload = exc.code, exc.headers, json.loads(exc.read())
    assert answered == status
    assert headers.get("Warning") == warning
    if status == 201:
        assert "colour" not in payload["spec"]["template"]["spec"]["containers"][0], "the field is dropped"
    else:
        assert payload["message"] == (
            'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
            'unknown field "spec.template.spec.containers[0].colour"'
        )
