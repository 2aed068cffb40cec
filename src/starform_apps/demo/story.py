"""The demo's story: the whole loop, from an empty cluster to drift repaired and a service pruned."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from starform_apps.demo.timeline import Timeline
from starform_apps.demo.world import World, open_world
from starform_apps.shuttle.reconciler import ReconcileResult
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.kube.objects import KubeObject

__all__ = ["DIGEST_V1", "DIGEST_V2", "run_demo", "set_up_tenants"]

DIGEST_V1 = "sha256:" + "1a" * 32
DIGEST_V2 = "sha256:" + "2b" * 32


def _summary(result: ReconcileResult) -> str:
    if result.plan is None:
        return "no payload yet"
    counts = {k: v for k, v in result.plan.summary().items() if v}
    failed = len(result.execution.failed) if result.execution else 0
    text = ", ".join(f"{v} {k}" for k, v in counts.items()) or "nothing to do"
    return f"generation {result.generation}: {text}" + (f", {failed} failed" if failed else "")


def _find(world: World, kind: str, service_id: str) -> KubeObject:
    for obj in world.kube.list("apps/v1" if kind == "Deployment" else "v1", kind):
        if (obj["metadata"].get("labels") or {}).get(LABEL_SERVICE_ID) == service_id:
            return obj
    raise LookupError(f"no {kind} for service {service_id}")


def _image(deployment: KubeObject) -> str:
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def set_up_tenants(world: World, timeline: Timeline) -> dict[str, Any]:
    """The demo's tenants: workspace Acme, project Shop, its environments, var groups and services
    (``services``: storefront, mailer, nightly-report and storefront-staging, by name)."""
    ws = world.call("POST", "/v1/workspaces", {"name": "Acme"}, expect=201)
    project = world.call(
        "POST",
        f"/v1/workspaces/{ws['id']}/projects",
        {"name": "Shop", "cluster_id": world.cluster_id, "tier": "pro"},
    )
    timeline.step("workspace and project created", f"Acme / Shop, pinned to cluster {world.cluster_id[:8]}")
    envs = {
        name: world.call(
            "POST", f"/v1/projects/{project['id']}/environments", {"name": name, **flags}, expect=201
        )
        for name, flags in (("production", {"protected": True}), ("staging", {}))
    }
    timeline.step("environments created", "production (protected), staging")
    shared = world.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {"name": "shared", "entries": {"LOG_LEVEL": "info", "FEATURE_FLAGS": "checkout-v2"}},
        expect=201,
    )
    secrets = world.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {
            "name": "production-secrets",
            "environment_id": envs["production"]["id"],
            "entries": {"DATABASE_URL": "postgres://shop:demo-only@db/shop", "LOG_LEVEL": "warn"},
        },
        expect=201,
    )
    timeline.step("var groups created", "shared (2 keys), production-secrets (2 keys, LOG_LEVEL overlaps)")
    prod = envs["production"]["id"]
    specs: dict[str, dict[str, Any]] = {
        "storefront": {
            "type": "web",
            "port": 8080,
            "replicas": 2,
            "probes": {"readiness": {"kind": "http", "port": 8080, "path": "/healthz"}},
        },
        "mailer": {"type": "worker", "replicas": 1},
        "nightly-report": {"type": "cron", "cron_schedule": "30 2 * * *", "cron_time_zone": "Europe/Berlin"},
    }
    services: dict[str, Any] = {}
    for name, spec in specs.items():
        service = world.call(
            "POST",
            f"/v1/projects/{project['id']}/services",
            {"environment_id": prod, "name": name, **spec},
            expect=201,
        )
        world.call("PUT", f"/v1/services/{service['id']}/var-groups/{shared['id']}", {"attach_order": 0})
        world.call("PUT", f"/v1/services/{service['id']}/var-groups/{secrets['id']}", {"attach_order": 1})
        world.call(
            "POST",
            f"/v1/services/{service['id']}/deployments",
            {"image": f"registry.digitalocean.com/acme/{name}@{DIGEST_V1}"},
            expect=201,
        )
        services[name] = service
    world.call(
        "POST", f"/v1/services/{services['storefront']['id']}/hostnames", {"hostname": "shop.acme.example"}
    )
    staging = world.call(
        "POST",
        f"/v1/projects/{project['id']}/services",
        {
            "environment_id": envs["staging"]["id"],
            "name": "storefront",
            "type": "web",
            "port": 8080,
            "replicas": 1,
        },
        expect=201,
    )
    world.call(
        "POST",
        f"/v1/services/{staging['id']}/deployments",
        {"image": f"registry.digitalocean.com/acme/storefront@{DIGEST_V1}"},
        expect=201,
    )
    services["storefront-staging"] = staging
    timeline.step(
        "services deployed", "web storefront, worker mailer, cron nightly-report (+ staging storefront)"
    )
    cluster = world.call("GET", f"/v1/clusters/{world.cluster_id}")
    timeline.step("desired state ready", f"cluster generation {cluster['generation']}")
    return {"project": project, "envs": envs, "services": services, "shared": shared}


def run_demo(
    out: TextIO, *, data_dir: Path | None = None, linger: Callable[[World], None] | None = None
) -> Timeline:
    """Tell the whole story on embedded defaults; returns the timeline. Leaves nothing running.

    ``linger(world)`` runs after the story while everything still runs (``starform demo
    --dashboard`` serves the dashboard until Ctrl-C); everything stops when it returns.
    """
    timeline = Timeline(out)
    timeline.chapter("Start the platform")
    with open_world(data_dir=data_dir) as world:
        timeline.step(
            "PostgreSQL, Starbase, Kubernetes up", f"Starbase at {world.base_url}, API at {world.kube.url}"
        )
        world.register_cluster()
        timeline.step("cluster registered", f"{world.cluster_id} (agent token issued once)")

        timeline.chapter("Intent goes into Starbase")
        tenants = set_up_tenants(world, timeline)
        services = tenants["services"]

        timeline.chapter("Shuttle converges the cluster")
        shuttle = world.start_shuttle()
        timeline.step("Shuttle started", f"watching {len(shuttle.cluster.live_objects())} owned objects")
        first = world.reconcile()
        timeline.step("reconcile 1", _summary(first))
        settled = world.converge()
        timeline.step("reconcile 2", _summary(settled))
        world.wait_healthy([s["id"] for s in services.values()])
        status = world.call("GET", f"/v1/services/{services['storefront']['id']}/status")
        timeline.step("storefront health (from Starbase)", f"{status['health']}: {status['reason']}")
        world.kube.clear_request_log()
        world.reconcile()
        timeline.step(
            "a no-op tick",
            f"{len(world.kube.requests.records())} Kubernetes API calls "
            f"({len(world.kube.requests.writes())} writes, {len(world.kube.requests.lists())} lists), "
            "Starbase answered 304",
        )

        timeline.chapter("A rolling deploy")
        storefront_id = services["storefront"]["id"]
        world.call(
            "POST",
            f"/v1/services/{storefront_id}/deployments",
            {"image": f"registry.digitalocean.com/acme/storefront@{DIGEST_V2}"},
            expect=201,
        )
        timeline.step("new image deployed", "storefront version 2")
        timeline.step("reconcile", _summary(world.reconcile()))
        deployment = _find(world, "Deployment", storefront_id)
        rollout = deployment.get("status") or {}
        timeline.step(
            "storefront rolled",
            f"image {_image(deployment).rsplit('@', 1)[1][:15]}..., "
            f"{rollout.get('updatedReplicas', 0)}/{deployment['spec'].get('replicas')} updated",
        )

        timeline.chapter("Someone edits the cluster by hand")
        meta = deployment["metadata"]
        world.kube.patch_as(
            "kubectl-edit",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": deployment["spec"]["template"]["spec"]["containers"][0]["name"],
                                    "image": "docker.io/someone/debug@sha256:" + "9" * 64,
                                }
                            ]
                        }
                    }
                },
            },
        )
        timeline.step("kubectl edit", "storefront image swapped out of band")
        world.wait_cache(lambda objs: any("someone/debug" in str(o.get("spec")) for o in objs))
        timeline.step("reconcile", _summary(world.reconcile()))
        timeline.step(
            "storefront image", _image(_find(world, "Deployment", storefront_id)).rsplit("/", 1)[1][:40]
        )
        mailer_service = _find(world, "Deployment", services["mailer"]["id"])
        world.kube.delete(
            "apps/v1",
            "Deployment",
            mailer_service["metadata"]["name"],
            namespace=mailer_service["metadata"]["namespace"],
        )
        timeline.step(
            "kubectl delete", f"deployment {mailer_service['metadata']['name']} removed out of band"
        )
        world.wait_cache(
            lambda objs: all(
                o["metadata"]["name"] != mailer_service["metadata"]["name"] or o["kind"] != "Deployment"
                for o in objs
            )
        )
        timeline.step("reconcile", _summary(world.reconcile()))
        timeline.step(
            "mailer deployment",
            "restored" if _find(world, "Deployment", services["mailer"]["id"]) else "missing",
        )

        timeline.chapter("A service is deleted")
        world.call("DELETE", f"/v1/services/{services['nightly-report']['id']}", expect=204)
        timeline.step("nightly-report deleted in Starbase", "")
        timeline.step("reconcile", _summary(world.reconcile()))
        cronjobs = world.kube.list("batch/v1", "CronJob")
        timeline.step("cron jobs left in the cluster", str(len(cronjobs)))

        timeline.chapter("What Starbase recorded")
        world.wait_healthy([s["id"] for name, s in services.items() if name != "nightly-report"])
        events: Counter[str] = Counter()
        drift_by: set[str] = set()
        for name, service in services.items():
            if name == "nightly-report":
                continue
            page = world.call("GET", f"/v1/services/{service['id']}/events?limit=200")
            events.update(e["type"] for e in page["events"])
            drift_by.update(
                str(field.get("manager"))
                for e in page["events"]
                if e["type"] == "DriftReverted"
                for field in e["data"].get("fields", [])
                if field.get("manager")
            )
        cluster = world.call("GET", f"/v1/clusters/{world.cluster_id}")
        timeline.step("events by type", ", ".join(f"{k} {v}" for k, v in sorted(events.items())))
        timeline.step("drift attributed to", ", ".join(sorted(drift_by)) or "nobody")
        health = {
            name: world.call("GET", f"/v1/services/{service['id']}/status")["health"]
            for name, service in services.items()
            if name != "nightly-report"
        }
        timeline.step("service health", ", ".join(f"{k} {v}" for k, v in health.items()))
        timeline.step(
            "generations",
            f"desired {cluster['generation']}, applied {cluster.get('last_applied_generation')}",
        )
        if linger is not None:
            linger(world)
    timeline.chapter("Done: everything stopped")
    return timeline
