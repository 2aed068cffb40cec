"""The whole loop with real parts: PostgreSQL, Starbase over HTTP, the Kubernetes test server, Shuttle."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from tests.envtest.waiting import wait_until

from starform_apps.demo import LocalStarform, open_local_starform, run_demo
from starform_core.kube.labels import ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX, LABEL_SERVICE_ID

DIGEST = "sha256:" + "ab" * 32


def test_the_demo_tells_the_whole_story_and_leaves_nothing_running() -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    out = io.StringIO()
    timeline = run_demo(out)
    text = out.getvalue()
    assert "healthy: all objects current" in text
    assert "(0 writes, 0 lists)" in text
    assert "drift attributed to                kubectl-edit" in text
    assert "mailer deployment                  restored" in text
    assert "cron jobs left in the cluster      0" in text
    assert "storefront healthy, mailer healthy, storefront-staging healthy" in text
    assert "signed push webhook" in text and "storefront rolled out" in text
    assert "build live" in text, "the agent's report of the deployed generation makes the build live"
    assert "usage snapshots sent" in text and "vCPU-minutes" in text
    assert "1 bound volume claim(s)" in text and "GiB-months of volumes" in text
    assert "volume line" in text, "the mailer's spool volume has its own line"
    assert any("== 10. Done" in line for line in timeline.lines)
    lingering = [t for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
    assert [t.name for t in lingering if not t.daemon] == []


@pytest.fixture(scope="module")
def world() -> Iterator[LocalStarform]:
    with open_local_starform() as opened:
        opened.register_cluster()
        yield opened


def _service(world: LocalStarform, name: str, env_name: str = "production", **spec: Any) -> dict[str, Any]:
    ws = world.call("POST", "/v1/workspaces", {"name": f"ws-{name}"}, expect=201)
    project = world.call(
        "POST", f"/v1/workspaces/{ws['id']}/projects", {"name": f"p-{name}", "cluster_id": world.cluster_id}
    )
    env = world.call("POST", f"/v1/projects/{project['id']}/environments", {"name": env_name}, expect=201)
    group = world.call(
        "POST",
        f"/v1/projects/{project['id']}/var-groups",
        {"name": "config", "entries": {"MODE": "one"}},
        expect=201,
    )
    service = world.call(
        "POST",
        f"/v1/projects/{project['id']}/services",
        {"environment_id": env["id"], "name": name, "type": "web", "port": 8080, "replicas": 2, **spec},
        expect=201,
    )
    world.call("PUT", f"/v1/services/{service['id']}/var-groups/{group['id']}", {"attach_order": 0})
    world.call(
        "POST", f"/v1/services/{service['id']}/deployments", {"image": f"example.com/app/{name}@{DIGEST}"}
    )
    return {"service": service, "group": group, "project": project}


def _deployment(world: LocalStarform, service_id: str) -> dict[str, Any]:
    for obj in world.kube.list("apps/v1", "Deployment"):
        if obj["metadata"]["labels"].get(LABEL_SERVICE_ID) == service_id:
            return obj
    raise AssertionError("no deployment")


def _replicasets(world: LocalStarform, deployment: dict[str, Any]) -> set[str]:
    namespace = deployment["metadata"]["namespace"]
    return {
        rs["metadata"]["name"]
        for rs in world.kube.list("apps/v1", "ReplicaSet", namespace=namespace)
        if any(
            ref.get("uid") == deployment["metadata"]["uid"]
            for ref in rs["metadata"].get("ownerReferences", [])
        )
    }


@pytest.fixture(scope="module")
def shuttle_world(world: LocalStarform) -> LocalStarform:
    world.start_shuttle()
    return world


def test_create_converges_healthy_and_applied_generation_is_stored(shuttle_world: LocalStarform) -> None:
    made = _service(shuttle_world, "api")
    shuttle_world.converge()
    service_id = made["service"]["id"]
    assert shuttle_world.wait_healthy([service_id]) == {service_id: "healthy"}
    status = shuttle_world.call("GET", f"/v1/services/{service_id}/status")
    assert status["reason"] == "all objects current"
    cluster = shuttle_world.call("GET", f"/v1/clusters/{shuttle_world.cluster_id}")
    assert cluster["last_applied_generation"] == cluster["generation"]


def test_a_new_image_rolls_the_deployment(shuttle_world: LocalStarform) -> None:
    made = _service(shuttle_world, "roller")
    shuttle_world.converge()
    service_id = made["service"]["id"]
    before = _deployment(shuttle_world, service_id)
    shuttle_world.call(
        "POST",
        f"/v1/services/{service_id}/deployments",
        {"image": f"example.com/app/roller@sha256:{'cd' * 32}"},
    )
    shuttle_world.converge()
    after = _deployment(shuttle_world, service_id)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"].endswith("cd" * 32)
    assert after["metadata"]["generation"] > before["metadata"]["generation"]
    assert len(_replicasets(shuttle_world, after)) == 2, "a new ReplicaSet rolled out beside the old one"
    assert after["status"]["updatedReplicas"] == 2


def test_a_var_group_value_change_rolls_the_pods_through_the_checksum(shuttle_world: LocalStarform) -> None:
    made = _service(shuttle_world, "config-user")
    shuttle_world.converge()
    service_id, group_id = made["service"]["id"], made["group"]["id"]
    annotation = ANNOTATION_VAR_GROUP_CHECKSUM_PREFIX + group_id
    before = _deployment(shuttle_world, service_id)
    old_sum = before["spec"]["template"]["metadata"]["annotations"][annotation]
    shuttle_world.call("PUT", f"/v1/var-groups/{group_id}/entries", {"entries": {"MODE": "two"}})
    shuttle_world.converge()
    after = _deployment(shuttle_world, service_id)
    new_sum = after["spec"]["template"]["metadata"]["annotations"][annotation]
    assert new_sum != old_sum
    assert "two" not in new_sum and "one" not in old_sum
    assert len(_replicasets(shuttle_world, after)) == 2, "the pods rolled"


def test_an_out_of_band_delete_is_restored_and_the_event_is_stored_in_postgres(
    shuttle_world: LocalStarform,
) -> None:
    made = _service(shuttle_world, "victim")
    shuttle_world.converge()
    service_id = made["service"]["id"]
    deployment = _deployment(shuttle_world, service_id)
    meta = deployment["metadata"]
    shuttle_world.kube.delete("apps/v1", "Deployment", meta["name"], namespace=meta["namespace"])
    shuttle_world.wait_cache(lambda objs: all(o["metadata"].get("uid") != meta["uid"] for o in objs))
    shuttle_world.converge()
    restored = _deployment(shuttle_world, service_id)
    assert restored["metadata"]["uid"] != meta["uid"]
    events = shuttle_world.call("GET", f"/v1/services/{service_id}/events?limit=200")["events"]
    deployments = [e for e in events if "Deployment" in e["data"]["object"]]
    assert [(e["type"], e["reason"]) for e in deployments] == [
        ("Applied", "missing"),
        ("DriftReverted", "missing"),
        ("ResourceDeletedExternally", "starbase"),  # the observed cache saw the new UID
    ]


def test_a_deleted_deployment_is_reported_missing_until_shuttle_restores_it(
    shuttle_world: LocalStarform,
) -> None:
    """Health is judged against the desired objects, through Shuttle's report to Starbase."""
    made = _service(shuttle_world, "vanishing")
    shuttle_world.converge()
    service_id = made["service"]["id"]
    assert shuttle_world.wait_healthy([service_id]) == {service_id: "healthy"}
    meta = _deployment(shuttle_world, service_id)["metadata"]
    # the API server refuses to create it again for now (as an admission webhook would)
    shuttle_world.kube.inject(
        "error", status=403, methods=["PATCH"], path_pattern=f"/deployments/{meta['name']}$"
    )
    shuttle_world.kube.delete("apps/v1", "Deployment", meta["name"], namespace=meta["namespace"])
    shuttle_world.wait_cache(lambda objs: all(o["metadata"].get("uid") != meta["uid"] for o in objs))

    def reported(health: str) -> dict[str, Any] | None:
        shuttle_world.reconcile()
        status: dict[str, Any] = shuttle_world.call("GET", f"/v1/services/{service_id}/status")
        return status if status["health"] == health else None

    missing = wait_until(lambda: reported("missing"), timeout=20, message="the service reported missing")
    assert f"Deployment.apps {meta['namespace']}/{meta['name']} is missing" in missing["reason"]
    cluster = shuttle_world.call("GET", f"/v1/clusters/{shuttle_world.cluster_id}")
    assert cluster["applied"] is False and cluster["failed"] >= 1
    shuttle_world.kube.clear_faults()
    shuttle_world.converge()
    assert _deployment(shuttle_world, service_id)["metadata"]["uid"] != meta["uid"]
    assert shuttle_world.wait_healthy([service_id]) == {service_id: "healthy"}


def test_a_deleted_service_is_pruned(shuttle_world: LocalStarform) -> None:
    made = _service(shuttle_world, "doomed")
    shuttle_world.converge()
    service_id = made["service"]["id"]
    assert _deployment(shuttle_world, service_id)
    shuttle_world.call("DELETE", f"/v1/services/{service_id}", expect=204)
    shuttle_world.converge()
    assert not [
        o
        for o in shuttle_world.kube.list("apps/v1", "Deployment")
        if o["metadata"]["labels"].get(LABEL_SERVICE_ID) == service_id
    ]
