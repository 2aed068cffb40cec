"""The vertical slice over a real socket: people build a tenant, the agent pulls and reports."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from tests.starbase.world import IMAGE, IMAGE_2, World, build_world, ok, register_cluster

from starform_testkit.starbase import RunningStarbase


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _builds(sb: RunningStarbase) -> float:
    value = sb.starbase.metrics.registry.get_sample_value("starbase_payload_builds_total")
    return value or 0.0


def _pull(client: httpx.Client, w: World, etag: str | None = None) -> httpx.Response:
    headers = w.h(w.agent_token)
    if etag:
        headers["If-None-Match"] = etag
    return client.get(f"/v1/clusters/{w.cluster_id}/desired-state", headers=headers)


def test_deploy_then_pull_then_304_without_rebuild(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    w = world
    auth = w.h(w.owner)
    ok(
        client.put(
            f"/v1/services/{w.web_id}/var-groups/{w.var_group_id}",
            headers=auth,
            json={"attach_order": 0},
        )
    )
    dep = ok(client.post(f"/v1/services/{w.web_id}/deployments", headers=auth, json={"image": IMAGE}), 201)
    assert dep["version"] == 1

    first = _pull(client, w)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    payload = json.loads(first.content)
    services = {s["service_id"]: s for p in payload["projects"] for s in p["services"]}
    assert services[w.web_id]["release"]["image"] == IMAGE
    assert services[w.web_id]["environment"] == "staging"
    groups = {g["var_group_id"]: g for p in payload["projects"] for g in p["var_groups"]}
    assert groups[w.var_group_id]["entries"] == {"LOG_LEVEL": "debug"}

    builds = _builds(starbase)
    not_modified = _pull(client, w, etag)
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert _builds(starbase) == builds, "a 304 must not rebuild the payload"
    assert _pull(client, w).content == first.content, "same generation, same bytes"
    assert _builds(starbase) == builds

    ok(client.post(f"/v1/services/{w.web_id}/deployments", headers=auth, json={"image": IMAGE_2}), 201)
    changed = _pull(client, w, etag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert json.loads(changed.content)["generation"] > payload["generation"]
    assert _builds(starbase) == builds + 1

    rolled = ok(client.post(f"/v1/services/{w.web_id}/rollback", headers=auth, json={"version": 1}), 201)
    assert (rolled["version"], rolled["image"]) == (3, IMAGE)
    versions = ok(client.get(f"/v1/services/{w.web_id}/deployments", headers=auth))
    assert [d["version"] for d in versions] == [3, 2, 1]


def test_cluster_token_reads_only_its_own_cluster(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    other_id, other_token = register_cluster(starbase, client, world.operator)
    assert (
        client.get(f"/v1/clusters/{other_id}/desired-state", headers=world.h(other_token)).status_code == 200
    )
    stolen = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(other_token))
    assert stolen.status_code == 404
    assert "entries" not in stolen.text
    for path, body in (
        ("status", {"applied_generation": 1, "services": []}),
        ("events", {"events": []}),
    ):
        assert (
            client.post(
                f"/v1/clusters/{world.cluster_id}/{path}", headers=world.h(other_token), json=body
            ).status_code
            == 404
        )
    assert client.get(f"/v1/clusters/{world.cluster_id}/desired-state").status_code == 401
    people_token = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.owner))
    assert people_token.status_code == 404


def test_status_report_and_dashboard_reads(client: httpx.Client, world: World) -> None:
    w = world
    generation = json.loads(_pull(client, w).content)["generation"]
    ahead = client.post(
        f"/v1/clusters/{w.cluster_id}/status",
        headers=w.h(w.agent_token),
        json={"applied_generation": generation + 1, "services": []},
    )
    assert ahead.status_code == 409
    assert "ahead" in ahead.json()["detail"]
    gone = ok(
        client.post(
            f"/v1/projects/{w.project_id}/services",
            headers=w.h(w.owner),
            json={"environment_id": w.staging_id, "name": "gone", "type": "worker"},
        ),
        201,
    )
    ok(client.delete(f"/v1/services/{gone['id']}", headers=w.h(w.owner)), 204)
    generation = json.loads(_pull(client, w).content)["generation"]
    healthy = {
        "service_id": w.web_id,
        "health": "healthy",
        "reason": "",
        "status": {"ready_replicas": 1},
        "generation": generation,
        "observed_at": "2026-01-01T00:00:00Z",
    }
    report = {
        "applied_generation": generation,
        "agent": "shuttle/test",
        # a service deleted since the pull is skipped, not an error
        "services": [healthy, {**healthy, "service_id": gone["id"]}],
    }
    accepted = ok(
        client.post(f"/v1/clusters/{w.cluster_id}/status", headers=w.h(w.agent_token), json=report), 201
    )
    assert accepted["applied_generation"] == generation
    status = ok(client.get(f"/v1/services/{w.web_id}/status", headers=w.h(w.owner)))
    assert (status["health"], status["status"], status["generation"]) == (
        "healthy",
        {"ready_replicas": 1},
        generation,
    )
    cluster = ok(client.get(f"/v1/clusters/{w.cluster_id}", headers=w.h(w.owner)))
    assert cluster["last_applied_generation"] == generation


def test_events_are_idempotent_and_paged(client: httpx.Client, world: World) -> None:
    w = world
    batch = {
        "events": [
            {
                "event_id": f"ev-{i}",
                "type": "DriftReverted" if i % 2 else "ReconcileSucceeded",
                "reason": "test",
                "service_id": w.web_id,
                "data": {"i": i},
                "occurred_at": "2026-01-01T00:00:00Z",
            }
            for i in range(5)
        ]
    }
    first = ok(client.post(f"/v1/clusters/{w.cluster_id}/events", headers=w.h(w.agent_token), json=batch))
    again = ok(client.post(f"/v1/clusters/{w.cluster_id}/events", headers=w.h(w.agent_token), json=batch))
    assert (first["stored"], again["stored"]) == (5, 0)
    page = ok(client.get(f"/v1/services/{w.web_id}/events?limit=3", headers=w.h(w.owner)))
    assert [e["event_id"] for e in page["events"]] == ["ev-0", "ev-1", "ev-2"]
    rest = ok(
        client.get(f"/v1/services/{w.web_id}/events?limit=3&after={page['next_after']}", headers=w.h(w.owner))
    )
    assert [e["event_id"] for e in rest["events"]] == ["ev-3", "ev-4"]
    assert rest["next_after"] is None


def test_var_group_values_are_write_only(client: httpx.Client, world: World) -> None:
    w = world
    secret = f"s3cret-{uuid.uuid4().hex}"
    body = ok(
        client.put(
            f"/v1/var-groups/{w.var_group_id}/entries",
            headers=w.h(w.owner),
            json={"entries": {"API_KEY": secret}},
        )
    )
    assert [k["key"] for k in body["keys"]] == ["API_KEY", "LOG_LEVEL"]
    for path in (f"/v1/var-groups/{w.var_group_id}", f"/v1/projects/{w.project_id}/var-groups"):
        response = client.get(path, headers=w.h(w.owner))
        assert response.status_code == 200
        assert secret not in response.text
        assert "debug" not in response.text
    assert secret in _pull(client, w).text


def test_health_ready_and_metrics(starbase: RunningStarbase, client: httpx.Client, world: World) -> None:
    etag = _pull(client, world).headers["ETag"]
    assert _pull(client, world, etag).status_code == 304  # this test's own 304, whatever ran before
    assert ok(client.get("/healthz")) == {"status": "ok"}
    assert ok(client.get("/readyz")) == {"status": "ready"}
    text = ok_text(client.get("/metrics", headers=starbase.auth(starbase.metrics_token)))
    assert 'route="/v1/clusters/{cluster_id}/desired-state"' in text
    assert 'status="304"' in text
    assert f'starbase_cluster_generation{{cluster_id="{world.cluster_id}"}}' in text
    assert "starbase_payload_not_modified_total" in text


def ok_text(response: httpx.Response) -> str:
    """Assert 200 and return the text."""
    assert response.status_code == 200, response.text
    return response.text
