"""Bad input of every kind gets a specific 4xx and leaves the database exactly as it was."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.world import IMAGE, World, build_world, ok

from starform_testkit.starbase import RunningStarbase


def snapshot(url: str) -> dict[str, Any]:
    """Row counts of every table, the clusters' generations and the audit log's tail."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        assert "services" in tables
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]
        generations = conn.execute("SELECT id, generation FROM clusters ORDER BY id").fetchall()
        services = conn.execute(
            "SELECT id, name, port, replicas, updated_at FROM services ORDER BY id"
        ).fetchall()
    return {"counts": counts, "generations": generations, "services": services}


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    w = build_world(starbase, client)
    owner = w.h(w.owner)
    ok(
        client.post(
            f"/v1/services/{w.web_id}/hostnames", headers=owner, json={"hostname": "taken.example.com"}
        ),
        201,
    )
    ok(
        client.put(
            f"/v1/services/{w.web_id}/var-groups/{w.var_group_id}", headers=owner, json={"attach_order": 1}
        )
    )
    ok(client.post(f"/v1/services/{w.web_id}/deployments", headers=owner, json={"image": IMAGE}), 201)
    worker = ok(
        client.post(
            f"/v1/projects/{w.project_id}/services",
            headers=owner,
            json={"environment_id": w.staging_id, "name": "worker", "type": "worker"},
        ),
        201,
    )
    w.extra["worker_id"] = worker["id"]
    other = build_world(starbase, client)
    w.extra["foreign_service_id"] = other.web_id
    return w


def _other_project_group(client: httpx.Client, w: World) -> str:
    other = ok(
        client.post(
            f"/v1/workspaces/{w.workspace_id}/projects",
            headers=w.h(w.owner),
            json={"name": f"other-{uuid.uuid4().hex[:6]}", "cluster_id": w.cluster_id},
        ),
        201,
    )
    group = ok(
        client.post(f"/v1/projects/{other['id']}/var-groups", headers=w.h(w.owner), json={"name": "g"}), 201
    )
    return str(group["id"])


def svc(w: World, **fields: Any) -> dict[str, Any]:
    return {"environment_id": w.staging_id, "name": "api", "type": "web", "port": 8000, **fields}


Request = Callable[[httpx.Client, World], httpx.Response]
BAD: dict[str, tuple[int, str, Request]] = {
    # name: (status, a word the error must contain, the request)
    "malformed json": (
        400,
        "json",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services",
            headers={**w.h(w.owner), "Content-Type": "application/json"},
            content=b'{"name": "api", ',
        ),
    ),
    "wrong type": (
        422,
        "port",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, port="eighty")
        ),
    ),
    "unknown field": (
        422,
        "colour",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, colour="red")
        ),
    ),
    "environment name upper case": (
        422,
        "RFC 1123",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/environments", headers=w.h(w.owner), json={"name": "Prod_1"}
        ),
    ),
    "environment name too long": (
        422,
        "30",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/environments", headers=w.h(w.owner), json={"name": "a" * 31}
        ),
    ),
    "duplicate environment": (
        409,
        "environment",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/environments", headers=w.h(w.owner), json={"name": "staging"}
        ),
    ),
    "unknown project": (
        404,
        "project",
        lambda c, w: c.post(
            f"/v1/projects/{uuid.uuid4()}/environments", headers=w.h(w.owner), json={"name": "qa"}
        ),
    ),
    "id not a uuid": (422, "uuid", lambda c, w: c.get("/v1/projects/not-a-uuid", headers=w.h(w.owner))),
    "unknown environment id": (
        404,
        "environment",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services",
            headers=w.h(w.owner),
            json=svc(w, environment_id=str(uuid.uuid4())),
        ),
    ),
    "duplicate service name": (
        409,
        "service",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, name="web")
        ),
    ),
    "service name invalid": (
        422,
        "name",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, name="9lives")
        ),
    ),
    "web service without port": (
        422,
        "port",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, port=None)
        ),
    ),
    "cron without schedule": (
        422,
        "cron",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, type="cron", port=None)
        ),
    ),
    "replicas and autoscaling": (
        422,
        "replicas",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services",
            headers=w.h(w.owner),
            json=svc(
                w, replicas=2, autoscaling={"min_replicas": 1, "max_replicas": 3, "target_cpu_percent": 70}
            ),
        ),
    ),
    "autoscaling max below min": (
        422,
        "autoscaling.max_replicas",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services",
            headers=w.h(w.owner),
            json=svc(w, autoscaling={"min_replicas": 5, "max_replicas": 3, "target_cpu_percent": 70}),
        ),
    ),
    "bad quantity": (
        422,
        "cpu_request",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/services", headers=w.h(w.owner), json=svc(w, cpu_request="lots")
        ),
    ),
    "nul character": (
        422,
        "",
        lambda c, w: c.post(
            f"/v1/projects/{w.project_id}/var-groups", headers=w.h(w.owner), json={"name": "a\u0000b"}
        ),
    ),
    "image not pinned by digest": (
        422,
        "digest",
        lambda c, w: c.post(
            f"/v1/services/{w.web_id}/deployments", headers=w.h(w.owner), json={"image": "nginx:latest"}
        ),
    ),
    "command as a string": (
        422,
        "command",
        lambda c, w: c.post(
            f"/v1/services/{w.web_id}/deployments",
            headers=w.h(w.owner),
            json={"image": IMAGE, "command": "run"},
        ),
    ),
    "rollback to unknown version": (
        404,
        "version",
        lambda c, w: c.post(f"/v1/services/{w.web_id}/rollback", headers=w.h(w.owner), json={"version": 99}),
    ),
    "hostname invalid": (
        422,
        "hostname",
        lambda c, w: c.post(
            f"/v1/services/{w.web_id}/hostnames", headers=w.h(w.owner), json={"hostname": "Not A Host"}
        ),
    ),
    "hostname taken": (
        409,
        "hostname",
        lambda c, w: c.post(
            f"/v1/services/{w.prod_web_id}/hostnames",
            headers=w.h(w.owner),
            json={"hostname": "taken.example.com"},
        ),
    ),
    "hostname on a worker": (
        422,
        "hostnames",
        lambda c, w: c.post(
            f"/v1/services/{w.extra['worker_id']}/hostnames",
            headers=w.h(w.owner),
            json={"hostname": "worker.example.com"},
        ),
    ),
    "var key invalid": (
        422,
        "entries",
        lambda c, w: c.put(
            f"/v1/var-groups/{w.var_group_id}/entries", headers=w.h(w.owner), json={"entries": {"1BAD": "x"}}
        ),
    ),
    "attach order taken": (
        409,
        "attach_order",
        lambda c, w: c.put(
            f"/v1/services/{w.web_id}/var-groups/{_other_group_same_project(c, w)}",
            headers=w.h(w.owner),
            json={"attach_order": 1},
        ),
    ),
    "attach group of another project": (
        404,
        "var group",
        lambda c, w: c.put(
            f"/v1/services/{w.web_id}/var-groups/{_other_project_group(c, w)}",
            headers=w.h(w.owner),
            json={"attach_order": 5},
        ),
    ),
    "volume relative mount path": (
        422,
        "mount_path",
        lambda c, w: c.post(
            f"/v1/services/{w.web_id}/volumes",
            headers=w.h(w.owner),
            json={"name": "data", "mount_path": "data", "size": "1Gi"},
        ),
    ),
    "status for another cluster's service": (
        422,
        "another cluster",
        lambda c, w: c.post(
            f"/v1/clusters/{w.cluster_id}/status",
            headers=w.h(w.agent_token),
            json={
                "applied_generation": 1,
                "services": [
                    {
                        "service_id": w.extra["foreign_service_id"],
                        "health": "healthy",
                        "generation": 1,
                        "observed_at": "2026-01-01T00:00:00Z",
                    }
                ],
            },
        ),
    ),
    "status generation ahead": (
        409,
        "ahead",
        lambda c, w: c.post(
            f"/v1/clusters/{w.cluster_id}/status",
            headers=w.h(w.agent_token),
            json={"applied_generation": 10**12, "services": []},
        ),
    ),
    "events limit out of range": (
        422,
        "limit",
        lambda c, w: c.get(f"/v1/services/{w.web_id}/events?limit=0", headers=w.h(w.owner)),
    ),
    "lb size unit out of range": (
        422,
        "size_unit",
        lambda c, w: c.patch(
            f"/v1/clusters/{w.cluster_id}", headers=w.h(w.operator), json={"lb_size_unit": 1000}
        ),
    ),
}


def _other_group_same_project(client: httpx.Client, w: World) -> str:
    group = ok(
        client.post(
            f"/v1/projects/{w.project_id}/var-groups",
            headers=w.h(w.owner),
            json={"name": f"g-{uuid.uuid4().hex[:6]}"},
        ),
        201,
    )
    return str(group["id"])


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_refused_and_changes_nothing(
    starbase: RunningStarbase, client: httpx.Client, world: World, name: str
) -> None:
    status, word, request = BAD[name]
    url = starbase.starbase.database_url
    # Requests that need a helper row create it first; snapshot after the helper, before the call.
    if name in ("attach order taken", "attach group of another project"):
        group = (_other_group_same_project if name == "attach order taken" else _other_project_group)(
            client, world
        )
        order = 1 if name == "attach order taken" else 5
        before = snapshot(url)
        response = client.put(
            f"/v1/services/{world.web_id}/var-groups/{group}",
            headers=world.h(world.owner),
            json={"attach_order": order},
        )
    else:
        before = snapshot(url)
        response = request(client, world)
    assert response.status_code == status, response.text
    assert word.lower() in response.text.lower(), response.text
    assert (
        "input" not in response.json().get("detail", [{}])[0]
        if isinstance(response.json().get("detail"), list)
        else True
    )
    after = snapshot(url)
    if name in RECORDED_REFUSALS:  # a refused agent report is recorded (the audit trail), nothing else
        assert after["counts"]["agent_report_refusals"] == before["counts"]["agent_report_refusals"] + 1
        for counts in (before["counts"], after["counts"]):
            del counts["agent_report_refusals"], counts["agent_state"]
    assert after == before


RECORDED_REFUSALS = {"status generation ahead"}


def test_validation_errors_name_the_field(client: httpx.Client, world: World) -> None:
    response = client.post(
        f"/v1/projects/{world.project_id}/services", headers=world.h(world.owner), json=svc(world, port=None)
    )
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["field"] == "port"
    assert "needs a port" in detail["msg"]
