"""The demo's walkthrough: the whole loop, from an empty cluster to drift repaired and a service
pruned, in chapters that each drive one part of it on a :class:`LocalStarform`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs

from starform_apps.demo.local_starform import DemoError, LocalStarform, open_local_starform
from starform_apps.demo.pushdeploy import push_to_deploy
from starform_apps.demo.timeline import Timeline
from starform_apps.shuttle.reconciler import ReconcileResult
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject

__all__ = ["DIGEST_V1", "DIGEST_V2", "run_demo", "set_up_tenants"]

DIGEST_V1 = "sha256:" + "1a" * 32
DIGEST_V2 = "sha256:" + "2b" * 32
REGISTRY = "registry.digitalocean.com/acme"
DELETED_SERVICE = "nightly-report"
"""The service the walkthrough deletes (chapter "A service is deleted")."""

_PRODUCTION_SERVICES: dict[str, dict[str, Any]] = {
    "storefront": {
        "type": "web",
        "port": 8080,
        "replicas": 2,
        "probes": {"readiness": {"kind": "http", "port": 8080, "path": "/healthz"}},
    },
    "mailer": {"type": "worker", "replicas": 1},
    DELETED_SERVICE: {"type": "cron", "cron_schedule": "30 2 * * *", "cron_time_zone": "Europe/Berlin"},
}
"""The services deployed to production, by name (their create bodies)."""


@attrs.frozen
class _Tenancy:
    """What the walkthrough created in Starbase: ids by name."""

    workspace_id: str
    project_id: str
    environment_ids: dict[str, str]
    var_group_ids: tuple[str, ...]
    """Attached to every production service, in this order."""


def _summary(result: ReconcileResult) -> str:
    if result.plan is None:
        return "no payload yet"
    counts = {k: v for k, v in result.plan.summary().items() if v}
    failed = len(result.execution.failed) if result.execution else 0
    text = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing to do"
    return f"generation {result.generation}: {text}" + (f", {failed} failed" if failed else "")


def _find(starform: LocalStarform, kind: str, service_id: str) -> KubeObject:
    for obj in starform.kube.list("apps/v1" if kind == "Deployment" else "v1", kind):
        if (obj["metadata"].get("labels") or {}).get(LABEL_SERVICE_ID) == service_id:
            return obj
    raise LookupError(f"no {kind} for service {service_id}")


def _image(deployment: KubeObject) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


# Intent goes into Starbase ---------------------------------------------------------------------
def _create_tenancy(starform: LocalStarform, timeline: Timeline) -> _Tenancy:
    """A workspace, a project pinned to the cluster, two environments and two var groups."""
    ws = starform.call("POST", "/v1/workspaces", {"name": "Acme"}, expect=201)
    project = starform.call(
        "POST",
        f"/v1/workspaces/{ws['id']}/projects",
        {"name": "Shop", "cluster_id": starform.cluster_id, "tier": "pro"},
    )
    timeline.step(
        "workspace and project created", f"Acme / Shop, pinned to cluster {starform.cluster_id[:8]}"
    )
    envs = {
        name: starform.call(
            "POST", f"/v1/projects/{project['id']}/environments", {"name": name, **flags}, expect=201
        )["id"]
        for name, flags in (("production", {"protected": True}), ("staging", {}))
    }
    timeline.step("environments created", "production (protected), staging")
    shared = starform.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {"name": "shared", "entries": {"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout-v2"}},
        expect=201,
    )
    secrets = starform.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {
            "name": "production-secrets",
            "environment_id": envs["production"],
            "entries": {"DATABASE_URL": "postgres://shop:demo-only@db/shop", "LOG_LEVEL": "warn"},
        },
        expect=201,
    )
    timeline.step("var groups created", "shared (2 keys), production-secrets (2 keys, LOG_LEVEL overlaps)")
    return _Tenancy(
        workspace_id=str(ws["id"]),
        project_id=str(project["id"]),
        environment_ids=envs,
        var_group_ids=(str(shared["id"]), str(secrets["id"])),
    )


def _deploy(
    starform: LocalStarform, tenancy: _Tenancy, environment: str, name: str, spec: dict[str, Any]
) -> Any:
    """Create a service and deploy its first image; returns the service."""
    service = starform.call(
        "POST",
        f"/v1/projects/{tenancy.project_id}/services",
        {"environment_id": tenancy.environment_ids[environment], "name": name, **spec},
        expect=201,
    )
    if environment == "production":
        for order, group_id in enumerate(tenancy.var_group_ids):
            starform.call(
                "PUT", f"/v1/services/{service['id']}/var-groups/{group_id}", {"attach_order": order}
            )
    starform.call(
        "POST",
        f"/v1/services/{service['id']}/deployments",
        {"image": f"{REGISTRY}/{name}@{DIGEST_V1}"},
        expect=201,
    )
    return service


def _deploy_services(starform: LocalStarform, tenancy: _Tenancy, timeline: Timeline) -> dict[str, Any]:
    """Production's three services (with var groups and a hostname), and a staging storefront."""
    services = {
        name: _deploy(starform, tenancy, "production", name, spec)
        for name, spec in _PRODUCTION_SERVICES.items()
    }
    starform.call(
        "POST", f"/v1/services/{services['storefront']['id']}/hostnames", {"hostname": "shop.acme.example"}
    )
    starform.call(
        "POST",
        f"/v1/services/{services['mailer']['id']}/volumes",
        {"name": "spool", "mount_path": "/var/spool/mailer", "size": "5Gi"},
        expect=201,
    )
    services["storefront-staging"] = _deploy(
        starform, tenancy, "staging", "storefront", {"type": "web", "port": 8080, "replicas": 1}
    )
    timeline.step(
        "services deployed",
        "web storefront, worker mailer (5Gi spool volume), cron nightly-report (+ staging storefront)",
    )
    cluster = starform.call("GET", f"/v1/clusters/{starform.cluster_id}")
    timeline.step("desired state ready", f"cluster generation {cluster['generation']}")
    return services


# Shuttle at work -------------------------------------------------------------------------------
def _converge(starform: LocalStarform, services: dict[str, Any], timeline: Timeline) -> None:
    """Start Shuttle, converge, wait for health, then show that a no-op tick costs nothing."""
    shuttle = starform.start_shuttle()
    timeline.step("Shuttle started", f"watching {len(shuttle.cluster.live_objects())} owned objects")
    timeline.step("reconcile 1", _summary(starform.reconcile()))
    timeline.step("reconcile 2", _summary(starform.converge()))
    starform.wait_healthy([s["id"] for s in services.values()])
    status = starform.call("GET", f"/v1/services/{services['storefront']['id']}/status")
    timeline.step("storefront health (from Starbase)", f"{status['health']}: {status['reason']}")
    starform.kube.clear_request_log()
    starform.reconcile()
    requests = starform.kube.requests
    timeline.step(
        "a no-op tick",
        f"{len(requests.records())} Kubernetes API calls "
        f"({len(requests.writes())} writes, {len(requests.lists())} lists), "
        "Starbase answered 304",
    )


def _rolling_deploy(starform: LocalStarform, storefront_id: str, timeline: Timeline) -> None:
    """Deploy a second image of the storefront and show the rollout."""
    starform.call(
        "POST",
        f"/v1/services/{storefront_id}/deployments",
        {"image": f"{REGISTRY}/storefront@{DIGEST_V2}"},
        expect=201,
    )
    timeline.step("new image deployed", "storefront version 2")
    timeline.step("reconcile", _summary(starform.reconcile()))
    deployment = _find(starform, "Deployment", storefront_id)
    rollout = deployment.get("status") or {}
    timeline.step(
        "storefront rolled",
        f"image {_image(deployment).rsplit('@', 1)[1][:15]}..., "
        f"{rollout.get('updatedReplicas', 0)}/{deployment['spec'].get('replicas')} updated",
    )


def _edit_image_by_hand(starform: LocalStarform, storefront_id: str, timeline: Timeline) -> None:
    """``kubectl edit`` swaps the storefront's image; Shuttle reverts it."""
    deployment = _find(starform, "Deployment", storefront_id)
    meta = deployment["metadata"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    starform.kube.patch_as(
        "kubectl-edit",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": container, "image": "docker.io/someone/debug@sha256:" + "9" * 64}
                        ]
                    }
                }
            },
        },
    )
    timeline.step("kubectl edit", "storefront image swapped out of band")
    starform.wait_cache(lambda objs: any("someone/debug" in str(o.get("spec")) for o in objs))
    timeline.step("reconcile", _summary(starform.reconcile()))
    timeline.step(
        "storefront image", _image(_find(starform, "Deployment", storefront_id)).rsplit("/", 1)[1][:40]
    )


def _delete_by_hand(starform: LocalStarform, mailer_id: str, timeline: Timeline) -> None:
    """``kubectl delete`` removes the mailer's Deployment; Shuttle restores it."""
    meta = _find(starform, "Deployment", mailer_id)["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    starform.kube.delete("apps/v1", "Deployment", name, namespace=namespace)
    timeline.step("kubectl delete", f"deployment {name} removed out of band")
    starform.wait_cache(
        lambda objs: all(o["metadata"]["name"] != name or o["kind"] != "Deployment" for o in objs)
    )
    timeline.step("reconcile", _summary(starform.reconcile()))
    timeline.step("mailer deployment", "restored" if _find(starform, "Deployment", mailer_id) else "missing")


def _delete_service(starform: LocalStarform, service_id: str, timeline: Timeline) -> None:
    """Delete a service in Starbase; Shuttle prunes its objects."""
    starform.call("DELETE", f"/v1/services/{service_id}", expect=204)
    timeline.step(f"{DELETED_SERVICE} deleted in Starbase", "")
    timeline.step("reconcile", _summary(starform.reconcile()))
    timeline.step("cron jobs left in the cluster", str(len(starform.kube.list("batch/v1", "CronJob"))))


# What Starbase recorded ------------------------------------------------------------------------
def _drift_managers(events: list[dict[str, Any]]) -> set[str]:
    """The field managers the ``DriftReverted`` events name."""
    return {
        str(field.get("manager"))
        for event in events
        if event["type"] == "DriftReverted"
        for field in event["data"].get("fields", [])
        if field.get("manager")
    }


def _show_records(starform: LocalStarform, services: dict[str, Any], timeline: Timeline) -> None:
    """Events by type, who drifted, health and generations, as Starbase reports them."""
    starform.wait_healthy([s["id"] for s in services.values()])
    events: Counter[str] = Counter()
    drift_by: set[str] = set()
    for service in services.values():
        page = starform.call("GET", f"/v1/services/{service['id']}/events?limit=200")
        events.update(e["type"] for e in page["events"])
        drift_by |= _drift_managers(page["events"])
    cluster = starform.call("GET", f"/v1/clusters/{starform.cluster_id}")
    timeline.step("events by type", ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
    timeline.step("drift attributed to", ", ".join(sorted(drift_by)) or "nobody")
    health = {
        name: starform.call("GET", f"/v1/services/{service['id']}/status")["health"]
        for name, service in services.items()
    }
    timeline.step("service health", ", ".join(f"{k} {v}" for k, v in health.items()))
    timeline.step(
        "generations",
        f"desired {cluster['generation']}, applied {cluster.get('last_applied_generation')}",
    )


def _usage(starform: LocalStarform, timeline: Timeline, workspace_id: str) -> None:
    """Close the usage window under way, send it, and show the month's estimate so far."""
    shuttle = starform.shuttle
    if shuttle is None or shuttle.usage is None:
        raise DemoError("Shuttle makes no usage snapshots")
    queued = shuttle.usage.tick(final=True)
    shuttle.drain(budget_seconds=10)
    tracked = int(shuttle.metrics.usage.pods_tracked._value.get())
    held = int(shuttle.metrics.usage.claims_held._value.get())
    timeline.step(
        "usage snapshots sent",
        f"{queued} snapshot(s) of {tracked} running pods (their requests), {held} bound volume claim(s)",
    )
    usage = starform.call("GET", f"/v1/workspaces/{workspace_id}/billing/usage")
    quantity = {"vcpu": Decimal(0), "memory": Decimal(0), "volume": Decimal(0)}
    for line in usage["lines"]:
        if line["kind"] == "usage" and line.get("resource") in quantity:
            quantity[line["resource"]] += Decimal(line["quantity"])
    timeline.step(
        "usage so far this month",
        f"{quantity['vcpu']:.4f} vCPU-minutes, {quantity['memory']:.4f} GiB-minutes of memory, "
        f"{quantity['volume']:.6f} GiB-months of volumes",
    )
    volumes = [line for line in usage["lines"] if line.get("resource") == "volume"]
    for line in volumes:
        timeline.step("volume line", f"{line['description']}: {line['amount']} {usage['currency']}")
    timeline.step(
        "estimate (pro plan)",
        f"subtotal {usage['subtotal']}, credit {usage['credit']}, total {usage['total']} {usage['currency']}",
    )


def set_up_tenants(starform: LocalStarform, timeline: Timeline) -> dict[str, Any]:
    """The demo's tenants: workspace Acme, project Shop, its environments, var groups and services
    (``services``: storefront, mailer, nightly-report and storefront-staging, by name)."""
    tenancy = _create_tenancy(starform, timeline)
    services = _deploy_services(starform, tenancy, timeline)
    project = {"id": tenancy.project_id, "workspace_id": tenancy.workspace_id}
    return {"project": project, "envs": tenancy.environment_ids, "services": services}


def run_demo(
    out: TextIO, *, data_dir: Path | None = None, linger: Callable[[LocalStarform], None] | None = None
) -> Timeline:
    """Run the whole walkthrough on embedded defaults; returns the timeline. Leaves nothing running.

    ``linger(starform)`` runs after the walkthrough while everything still runs (``starform demo
    --dashboard`` serves the dashboard until Ctrl-C); everything stops when it returns.
    """
    timeline = Timeline(out)
    timeline.chapter("Start the platform")
    with open_local_starform(data_dir=data_dir) as starform:
        timeline.step(
            "PostgreSQL, Starbase, Kubernetes up",
            f"Starbase at {starform.base_url}, API at {starform.kube.url}",
        )
        starform.register_cluster()
        timeline.step("cluster registered", f"{starform.cluster_id} (agent token issued once)")
        timeline.chapter("Intent goes into Starbase")
        tenancy = _create_tenancy(starform, timeline)
        services = _deploy_services(starform, tenancy, timeline)
        timeline.chapter("Shuttle converges the cluster")
        _converge(starform, services, timeline)
        timeline.chapter("A rolling deploy")
        _rolling_deploy(starform, services["storefront"]["id"], timeline)
        timeline.chapter("Push to deploy")
        push_to_deploy(starform, timeline, tenancy.workspace_id, services["storefront"]["id"])
        timeline.chapter("Someone edits the cluster by hand")
        _edit_image_by_hand(starform, services["storefront"]["id"], timeline)
        _delete_by_hand(starform, services["mailer"]["id"], timeline)
        timeline.chapter("A service is deleted")
        deleted = services.pop(DELETED_SERVICE)
        _delete_service(starform, deleted["id"], timeline)
        timeline.chapter("What Starbase recorded")
        _show_records(starform, services, timeline)
        timeline.chapter("Usage accrues")
        _usage(starform, timeline, tenancy.workspace_id)
        if linger is not None:
            linger(starform)
    timeline.chapter("Done: everything stopped")
    return timeline
