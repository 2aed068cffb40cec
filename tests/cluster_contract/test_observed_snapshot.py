"""The observed snapshot Shuttle reports, read from objects as each server returns them: the
workload's container images from its live pod template (with the server's defaults filled in),
a CronJob's schedule."""

from __future__ import annotations

from typing import Any

from tests.cluster_contract.backends import Backend
from tests.cluster_contract.objects import OWNED, deployment

from starform_adapters.kubernetes import KubernetesCluster
from starform_apps.shuttle.observed import observed_objects
from starform_core.kube.labels import LABEL_SERVICE_ID

SID = "00000000-0000-4000-8000-00000000c0de"
IMAGE = "registry.example/acme/web@sha256:" + "b" * 64
SIDECAR = "docker.io/library/nginx:1.27"


def _labelled(obj: dict[str, Any]) -> dict[str, Any]:
    obj["metadata"]["labels"] = {**obj["metadata"].get("labels", {}), **OWNED, LABEL_SERVICE_ID: SID}
    return obj


def _pod(name: str, *containers: tuple[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": c, "image": i} for c, i in containers]},
    }


def _cronjob(name: str, ns: str) -> dict[str, Any]:
    template = _pod(name, ("app", IMAGE))
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {
            "schedule": "30 2 * * *",
            "timeZone": "Europe/Berlin",
            "suspend": True,
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"template": template}},
        },
    }


def test_the_snapshot_of_live_workloads_names_each_containers_image(backend: Backend, ns: str) -> None:
    cluster = KubernetesCluster(backend.configuration())
    web = deployment("web", ns)
    web["spec"]["template"] = _pod("web", ("app", IMAGE), ("proxy", SIDECAR))
    live = [
        cluster.apply(_labelled(web), force=True),
        cluster.apply(_labelled(_cronjob("report", ns)), force=True),
    ]
    assert live[0]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "server defaults are in"
    shots = {o["kind"]: o for o in observed_objects(live)}
    assert shots["Deployment"]["observed"]["images"] == {"app": IMAGE, "proxy": SIDECAR}
    assert shots["Deployment"]["observed"]["spec_replicas"] == 2
    cron = shots["CronJob"]["observed"]
    assert cron["images"] == {"app": IMAGE}
    assert (cron["spec_schedule"], cron["spec_timeZone"], cron["spec_suspend"]) == (
        "30 2 * * *",
        "Europe/Berlin",
        True,
    )
    assert {o["uid"] for o in shots.values()} == {o["metadata"]["uid"] for o in live}
