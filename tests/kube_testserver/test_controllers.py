"""The controller simulation: ReplicaSets, pods, rollout status, image pull failures, CronJobs."""

from __future__ import annotations

import datetime as dt

import kubernetes

from starform_testkit.kube_testserver import KubeTestServer

from .helpers import APPLY, deployment


def _conditions(obj: kubernetes.client.V1Deployment) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in obj.status.conditions}


def test_deployment_gets_replicaset_pods_and_status(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=3))
    (rs,) = apps.list_namespaced_replica_set(ns).items
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert rs.metadata.name.startswith("web-")
    assert rs.metadata.labels["pod-template-hash"]
    pods = core.list_namespaced_pod(ns, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.metadata.owner_references[0].name == rs.metadata.name for p in pods)
    assert all(p.status.phase == "Running" for p in pods)
    status = apps.read_namespaced_deployment("web", ns).status
    assert status.observed_generation == 1
    assert (status.replicas, status.ready_replicas, status.updated_replicas, status.available_replicas) == (
        3,
        3,
        3,
        3,
    )
    assert _conditions(apps.read_namespaced_deployment("web", ns)) == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }


def test_rollout_replaces_the_replicaset(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    apps.patch_namespaced_deployment(
        "web",
        ns,
        deployment("web", ns, image="nginx:1.27"),
        field_manager="shuttle",
        force=True,
        _content_type=APPLY,
    )
    sets = {rs.metadata.name: rs.spec.replicas for rs in apps.list_namespaced_replica_set(ns).items}
    assert sorted(sets.values()) == [0, 2]
    images = {p.spec.containers[0].image for p in core.list_namespaced_pod(ns).items}
    assert images == {"nginx:1.27"}
    status = apps.read_namespaced_deployment("web", ns).status
    assert status.observed_generation == 2
    assert status.updated_replicas == 2


def test_zero_replicas_means_no_pods(
    core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 0}})
    assert core.list_namespaced_pod(ns).items == []
    status = apps.read_namespaced_deployment("web", ns).status
    assert status.replicas is None
    assert _conditions(apps.read_namespaced_deployment("web", ns))["Available"][0] == "True"


def test_deleted_pod_is_replaced(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=1))
    (pod,) = core.list_namespaced_pod(ns).items
    core.delete_namespaced_pod(pod.metadata.name, ns)
    (replacement,) = core.list_namespaced_pod(ns).items
    assert replacement.metadata.name != pod.metadata.name


def test_image_pull_backoff_and_progress_deadline(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.create_namespaced_deployment(
        ns, deployment("web", ns, image="registry.example/broken:1", replicas=2)
    )
    pods = core.list_namespaced_pod(ns).items
    assert len(pods) == 2
    waiting = pods[0].status.container_statuses[0].state.waiting
    assert waiting.reason == "ImagePullBackOff"
    assert pods[0].status.phase == "Pending"
    obj = apps.read_namespaced_deployment("web", ns)
    assert obj.status.ready_replicas is None
    assert obj.status.unavailable_replicas == 2
    assert _conditions(obj) == {
        "Available": ("False", "MinimumReplicasUnavailable"),
        "Progressing": ("True", "ReplicaSetUpdated"),
    }
    kube.expire_progress_deadlines()
    assert _conditions(apps.read_namespaced_deployment("web", ns))["Progressing"] == (
        "False",
        "ProgressDeadlineExceeded",
    )
    apps.patch_namespaced_deployment(
        "web",
        ns,
        deployment("web", ns, image="nginx:1.25", replicas=2),
        field_manager="shuttle",
        force=True,
        _content_type=APPLY,
    )
    assert _conditions(apps.read_namespaced_deployment("web", ns))["Progressing"] == (
        "True",
        "NewReplicaSetAvailable",
    )


def test_controllers_can_be_switched_off_and_driven(
    kube: KubeTestServer, core: kubernetes.client.CoreV1Api, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    kube.set_controllers_enabled(False)
    try:
        apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
        assert core.list_namespaced_pod(ns).items == []
        kube.run_controllers()
        assert len(core.list_namespaced_pod(ns).items) == 2
        ready = kube.wait_for(
            lambda: apps.read_namespaced_deployment("web", ns).status.ready_replicas, timeout=1
        )
        assert ready == 2
    finally:
        kube.set_controllers_enabled(True)


def test_cronjob_records_last_schedule_time(
    kube: KubeTestServer, ns: str, client: kubernetes.client.ApiClient
) -> None:
    batch = kubernetes.client.BatchV1Api(client)
    kube.clock.set(dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=dt.UTC))
    batch.create_namespaced_cron_job(
        ns,
        {
            "metadata": {"name": "tick"},
            "spec": {
                "schedule": "*/15 * * * *",
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
    assert batch.read_namespaced_cron_job("tick", ns).status.last_schedule_time is None
    kube.advance_clock(20 * 60)
    cron = batch.read_namespaced_cron_job("tick", ns)
    assert cron.status.last_schedule_time == dt.datetime(2030, 1, 1, 12, 15, tzinfo=dt.UTC)
    jobs = batch.list_namespaced_job(ns).items
    assert [j.metadata.owner_references[0].name for j in jobs] == ["tick"]


def test_no_op_tick_makes_no_writes(kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str) -> None:
    body = deployment("web", ns)
    apps.patch_namespaced_deployment("web", ns, body, field_manager="shuttle", _content_type=APPLY)
    rv = kube.resource_version
    kube.clear_request_log()
    apps.read_namespaced_deployment("web", ns)
    kube.run_controllers()
    assert kube.requests.writes() == []
    assert kube.requests.lists() == []
    assert kube.resource_version == rv


def test_routes_are_accepted_and_claims_bound() -> None:
    from starform_testkit.kube_testserver import KubeTestServer

    with KubeTestServer(gateway_api=True) as kube:
        kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        kube.apply_as(
            "shuttle",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {
                    "parentRefs": [{"name": "gw", "namespace": "gateways"}],
                    "hostnames": ["a.example.com"],
                },
            },
        )
        kube.apply_as(
            "shuttle",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": "shop"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            },
        )
        route = kube.get("gateway.networking.k8s.io/v1", "HTTPRoute", "web", namespace="shop")
        claim = kube.get("v1", "PersistentVolumeClaim", "data", namespace="shop")
    assert route is not None
    assert claim is not None
    (parent,) = route["status"]["parents"]
    assert parent["parentRef"]["name"] == "gw"
    assert parent["parentRef"]["namespace"] == "gateways"
    assert {c["type"]: c["status"] for c in parent["conditions"]} == {
        "Accepted": "True",
        "ResolvedRefs": "True",
    }
    assert claim["status"] == {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
    }
    assert claim["spec"]["volumeName"] == f"pvc-{claim['metadata']['uid']}"
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    entries = {(m["manager"], m.get("subresource", "")): m for m in claim["metadata"]["managedFields"]}
    assert set(entries) == {
        ("shuttle", ""),
        ("kube-controller-manager", ""),
        ("kube-controller-manager", "status"),
    }
    binder = entries[("kube-controller-manager", "")]
    assert binder["operation"] == "Update"
    assert binder["fieldsV1"] == {
        "f:metadata": {
            "f:annotations": {
                ".": {},
                "f:pv.kubernetes.io/bind-completed": {},
                "f:pv.kubernetes.io/bound-by-controller": {},
                "f:volume.beta.kubernetes.io/storage-provisioner": {},
                "f:volume.kubernetes.io/storage-provisioner": {},
            }
        },
        "f:spec": {"f:volumeName": {}},
    }
    assert set(entries[("kube-controller-manager", "status")]["fieldsV1"]["f:status"]) == {
        "f:phase",
        "f:accessModes",
        "f:capacity",
    }


def _entries(obj: dict[str, object]) -> dict[tuple[str, str, str], dict[str, object]]:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    return {(m["manager"], m["operation"], m.get("subresource", "")): m for m in meta["managedFields"]}


def test_the_deployment_controller_records_the_revision_on_the_deployment(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    apps.patch_namespaced_deployment(
        "web", ns, deployment("web", ns), field_manager="shuttle", _content_type=APPLY
    )
    stored = kube.get("apps/v1", "Deployment", "web", namespace=ns)
    assert stored is not None
    assert stored["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    entries = _entries(stored)
    # as on a real cluster: the revision annotation is part of the controller's status entry
    assert set(entries) == {("shuttle", "Apply", ""), ("kube-controller-manager", "Update", "status")}
    status_fields = entries[("kube-controller-manager", "Update", "status")]["fieldsV1"]
    assert isinstance(status_fields, dict)
    assert status_fields["f:metadata"] == {
        "f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}
    }
    assert "f:status" in status_fields
    apps.patch_namespaced_deployment(
        "web", ns, deployment("web", ns, image="nginx:1.27"), field_manager="shuttle", _content_type=APPLY
    )
    again = kube.get("apps/v1", "Deployment", "web", namespace=ns)
    assert again is not None
    assert again["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert again["metadata"]["generation"] == 2  # a status write never bumps the generation


def test_the_autoscaler_reports_its_conditions(
    kube: KubeTestServer, apps: kubernetes.client.AppsV1Api, ns: str
) -> None:
    autoscaling = kubernetes.client.AutoscalingV2Api(apps.api_client)
    hpa = {
        "metadata": {"name": "web"},
        "spec": {
            "minReplicas": 1,
            "maxReplicas": 4,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        },
    }
    autoscaling.create_namespaced_horizontal_pod_autoscaler(ns, hpa)
    orphan = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", namespace=ns)
    assert orphan is not None
    conditions = {c["type"]: (c["status"], c["reason"]) for c in orphan["status"]["conditions"]}
    assert conditions["AbleToScale"] == ("False", "FailedGetScale")
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    stored = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", namespace=ns)
    assert stored is not None
    conditions = {c["type"]: (c["status"], c["reason"]) for c in stored["status"]["conditions"]}
    assert conditions == {
        "AbleToScale": ("True", "ReadyForNewScale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("False", "DesiredWithinRange"),
    }
    assert (stored["status"]["currentReplicas"], stored["status"]["desiredReplicas"]) == (2, 2)
    assert ("kube-controller-manager", "Update", "status") in _entries(stored)
    kube.autoscale(ns, "web", 3)
    scaled = kube.get("autoscaling/v2", "HorizontalPodAutoscaler", "web", namespace=ns)
    assert scaled is not None
    assert (scaled["status"]["currentReplicas"], scaled["status"]["desiredReplicas"]) == (3, 3)
