"""Adopt and the observed cache over HTTP on real PostgreSQL: drift reports become adoptions,
people approve or reject them (roles, 409), rejected values are reverted once via the payload,
objects are kept by UID (recreated, stale) with their observed snapshot (the images a workload
runs), bad agent input is a clear 422."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase.logs import configure_logging
from starform_testkit.starbase import RunningStarbase


@pytest.fixture
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    w = build_world(starbase, client)
    ok(
        client.patch(
            f"/v1/services/{w.web_id}", headers=w.h(w.owner), json={"drift_mode": "adopt", "replicas": 2}
        )
    )
    return w


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _drift(
    client: httpx.Client,
    world: World,
    live: str,
    *,
    path: str = "/spec/replicas",
    service_id: str | None = None,
) -> httpx.Response:
    report = {
        "report_id": str(uuid.uuid4()),
        "service_id": service_id or world.web_id,
        "object": {"kind": "Deployment", "namespace": "sf-shop", "name": "web-staging", "uid": "uid-1"},
        "fields": [{"path": path, "live": live, "desired": "2", "manager": "kubectl"}],
        "epoch": 0,
        "generation": 1,
        "reported_at": _now(),
    }
    return client.post(
        f"/v1/clusters/{world.cluster_id}/drift-reports",
        headers=world.h(world.agent_token),
        json={"reports": [report]},
    )


def _adoptions(client: httpx.Client, world: World) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = ok(
        client.get(f"/v1/services/{world.web_id}/adoptions", headers=world.h(world.owner))
    )
    return result


def _generation(client: httpx.Client, world: World) -> int:
    return int(ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=world.h(world.owner)))["generation"])


def _payload(client: httpx.Client, world: World) -> dict[str, Any]:
    body = ok(
        client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.agent_token))
    )
    [service] = [s for p in body["projects"] for s in p["services"] if s["service_id"] == world.web_id]
    return service


def _events(client: httpx.Client, world: World) -> list[dict[str, Any]]:
    page = ok(client.get(f"/v1/services/{world.web_id}/events?limit=500", headers=world.h(world.owner)))
    return list(page["events"])


def test_a_reported_value_waits_and_an_approval_makes_it_desired_in_one_generation(
    client: httpx.Client, world: World
) -> None:
    assert ok(_drift(client, world, "5")) == {"received": 1, "adoptions": 1}
    assert ok(_drift(client, world, "5"))["adoptions"] == 0, "a re-sent report only refreshes it"
    [pending] = _adoptions(client, world)
    assert pending["status"] == "pending" and pending["within_rules"] is None, "no template: no rules"
    assert (pending["field"], pending["spec_field"], pending["live"], pending["uid"]) == (
        "Deployment:/spec/replicas",
        "/replicas",
        "5",
        "uid-1",
    )
    before = _generation(client, world)
    approved = ok(client.post(f"/v1/adoptions/{pending['id']}/approve", headers=world.h(world.owner)))
    assert approved["status"] == "adopted" and approved["generation"] == before + 1 == _generation(
        client, world
    )
    assert ok(client.get(f"/v1/services/{world.web_id}", headers=world.h(world.owner)))["replicas"] == 5
    assert _payload(client, world)["replicas"] == 5
    again = client.post(f"/v1/adoptions/{pending['id']}/approve", headers=world.h(world.owner))
    assert again.status_code == 409 and "adopted, not pending" in again.text
    types = [e["type"] for e in _events(client, world)]
    assert types.count("AdoptionPending") == 1 and types.count("AdoptionAdopted") == 1
    assert ok(_drift(client, world, "5"))["adoptions"] == 0, "a late report of the adopted value is ignored"


def test_a_new_value_supersedes_the_pending_one(client: httpx.Client, world: World) -> None:
    ok(_drift(client, world, "5"))
    ok(_drift(client, world, "6"))
    statuses = {a["live"]: a["status"] for a in _adoptions(client, world)}
    assert statuses == {"6": "pending", "5": "superseded"}


def test_a_rejection_lists_the_value_for_one_revert_then_the_revert_settles_it(
    client: httpx.Client, world: World
) -> None:
    ok(_drift(client, world, "7"))
    [pending] = _adoptions(client, world)
    before = _generation(client, world)
    rejected = ok(client.post(f"/v1/adoptions/{pending['id']}/reject", headers=world.h(world.owner)))
    assert rejected["status"] == "rejected" and _generation(client, world) == before + 1
    drift = _payload(client, world)["drift"]
    assert drift["mode"] == "adopt"
    assert drift["revert"] == [{"field": "Deployment:/spec/replicas", "live": "7"}]
    assert ok(_drift(client, world, "7"))["adoptions"] == 0, "a rejected value is left to the revert"
    reverted_event = {
        "event_id": str(uuid.uuid4()),
        "type": "DriftReverted",
        "reason": "drifted",
        "message": "Deployment sf-shop/web-staging (drifted)",
        "service_id": world.web_id,
        "data": {"kind": "Deployment", "fields": [{"path": "/spec/replicas", "live": "7", "desired": "2"}]},
        "occurred_at": _now(),
    }
    events = {"events": [reverted_event]}
    ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events", headers=world.h(world.agent_token), json=events
        )
    )
    assert [a["status"] for a in _adoptions(client, world)] == ["reverted"]
    assert "revert" not in _payload(client, world)["drift"], "reverted once: the entry left the payload"
    assert _generation(client, world) == before + 2


def test_only_roles_that_may_deploy_decide(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    ok(_drift(client, world, "3"))
    [pending] = _adoptions(client, world)
    email = f"viewer-{uuid.uuid4().hex[:6]}@example.com"
    viewer = starbase.user_token(email)
    owner = world.h(world.owner)
    ok(
        client.put(
            f"/v1/workspaces/{world.workspace_id}/members",
            headers=owner,
            json={"email": email, "role": "member"},
        ),
        204,
    )
    ok(
        client.put(
            f"/v1/projects/{world.project_id}/members", headers=owner, json={"email": email, "role": "viewer"}
        ),
        204,
    )
    assert client.get(f"/v1/services/{world.web_id}/adoptions", headers=world.h(viewer)).status_code == 200
    assert client.post(f"/v1/adoptions/{pending['id']}/approve", headers=world.h(viewer)).status_code == 403
    assert client.post(f"/v1/adoptions/{pending['id']}/reject", headers=world.h(viewer)).status_code == 403
    assert client.post(f"/v1/adoptions/{uuid.uuid4()}/approve", headers=owner).status_code == 404
    assert _adoptions(client, world)[0]["status"] == "pending"


def test_a_value_the_service_cannot_take_is_rejected_at_once(client: httpx.Client, world: World) -> None:
    before = _generation(client, world)
    ok(_drift(client, world, "500"))
    [adoption] = _adoptions(client, world)
    assert adoption["status"] == "rejected" and adoption["within_rules"] is False
    [problem] = adoption["problems"]
    assert problem["pointer"] == "/replicas" and problem["rule"] == "value"
    assert _generation(client, world) == before + 1
    assert _payload(client, world)["drift"]["revert"] == [
        {"field": "Deployment:/spec/replicas", "live": "500"}
    ]


def test_reports_outside_adopt_or_of_fields_it_does_not_cover_are_ignored(
    client: httpx.Client, world: World
) -> None:
    assert (
        ok(_drift(client, world, '"evil:1"', path="/spec/template/spec/containers/0/image"))["adoptions"] == 0
    )
    ok(
        client.patch(
            f"/v1/services/{world.web_id}", headers=world.h(world.owner), json={"drift_mode": "enforce"}
        )
    )
    assert ok(_drift(client, world, "4"))["adoptions"] == 0
    assert _adoptions(client, world) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"fields": [{"path": "spec/replicas", "live": "3"}]}, "path"),
        ({"fields": [{"path": "/spec/replicas", "live": "x" * 1025}]}, "live"),
        ({"fields": [{"path": "/spec/replicas", "live": "3\n"}]}, "live"),
        ({"object": {"kind": "deployment", "name": "web"}}, "kind"),
        ({"service_id": "not-a-uuid"}, "service_id"),
        ({"fields": [{"path": "/spec/replicas", "live": "3"}] * 101}, "fields"),
    ],
)
def test_bad_drift_reports_are_422_naming_the_field(
    client: httpx.Client, world: World, change: dict[str, Any], where: str
) -> None:
    report = {
        "report_id": "r-1",
        "service_id": world.web_id,
        "object": {"kind": "Deployment", "namespace": "sf-shop", "name": "web-staging"},
        "fields": [{"path": "/spec/replicas", "live": "3"}],
        **change,
    }
    response = client.post(
        f"/v1/clusters/{world.cluster_id}/drift-reports",
        headers=world.h(world.agent_token),
        json={"reports": [report]},
    )
    assert response.status_code == 422, response.text
    assert where in response.text
    assert "x" * 100 not in response.text, "the refused value is not echoed"


def test_a_service_of_another_cluster_and_a_foreign_token_are_refused(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    other = build_world(starbase, client)
    response = _drift(client, world, "3", service_id=other.web_id)
    assert response.status_code == 422 and "another cluster" in response.text
    wrong = client.post(
        f"/v1/clusters/{world.cluster_id}/drift-reports",
        headers=world.h(other.agent_token),
        json={"reports": []},
    )
    assert wrong.status_code == 404


def _status(client: httpx.Client, world: World, objects: list[dict[str, Any]]) -> None:
    ok(_post_status(client, world, objects), 201)


def _post_status(client: httpx.Client, world: World, objects: list[dict[str, Any]]) -> httpx.Response:
    cluster = ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=world.h(world.owner)))
    body = {
        "report_id": str(uuid.uuid4()),
        "epoch": cluster["epoch"],
        "applied_generation": 0,
        "reported_at": _now(),
        "services": [
            {"service_id": world.web_id, "health": "healthy", "generation": 0, "observed_at": _now()}
        ],
        "objects": objects,
    }
    return client.post(
        f"/v1/clusters/{world.cluster_id}/status", headers=world.h(world.agent_token), json=body
    )


def _object(world: World, uid: str, ready: int = 1) -> dict[str, Any]:
    return {
        "service_id": world.web_id,
        "kind": "Deployment",
        "namespace": "sf-shop",
        "name": "web-staging",
        "uid": uid,
        "observed": {"readyReplicas": ready, "conditions": [{"type": "Available", "status": "True"}]},
    }


def _objects(client: httpx.Client, world: World) -> list[dict[str, Any]]:
    return list(ok(client.get(f"/v1/services/{world.web_id}/objects", headers=world.h(world.owner))))


def test_objects_are_kept_by_uid_and_a_recreated_one_is_an_event(client: httpx.Client, world: World) -> None:
    _status(client, world, [_object(world, "uid-a")])
    _status(client, world, [_object(world, "uid-a", ready=2)])
    [first] = _objects(client, world)
    assert (first["uid"], first["current"], first["present"], first["stale"]) == ("uid-a", True, True, False)
    assert first["observed"]["readyReplicas"] == 2
    _status(client, world, [_object(world, "uid-b")])
    objects = _objects(client, world)
    assert [(o["uid"], o["current"]) for o in objects] == [("uid-b", True), ("uid-a", False)]
    [event] = [e for e in _events(client, world) if e["type"] == "ResourceDeletedExternally"]
    assert (event["data"]["old_uid"], event["data"]["uid"]) == ("uid-a", "uid-b")
    _status(client, world, [])
    assert [o["present"] for o in _objects(client, world) if o["current"]] == [False]


IMAGE = "registry.digitalocean.com/acme/web@sha256:" + "c" * 64


def test_the_images_a_workload_runs_are_kept_and_listed_with_its_object(
    client: httpx.Client, world: World
) -> None:
    reported = _object(world, "uid-img")
    reported["observed"]["images"] = {"app": IMAGE, "proxy": "docker.io/library/nginx:1.27"}
    _status(client, world, [reported])
    [listed] = _objects(client, world)
    assert listed["observed"]["images"] == {"app": IMAGE, "proxy": "docker.io/library/nginx:1.27"}


@pytest.mark.parametrize(
    ("images", "reason"),
    [
        ("registry/app:1", "images must map container names to image references"),
        ({f"c{i}": "img:1" for i in range(9)}, "images lists 9 containers; at most 8 allowed"),
        ({"Not_A_Label": "img:1"}, "container names are RFC 1123 labels"),
        ({"app": "img 1"}, "the image of container app must be printable text without spaces"),
        ({"app": "r/" + "x" * 600}, "1 to 512 characters"),
        ({"app": 7}, "the image of container app must be printable text"),
    ],
)
def test_bad_observed_images_are_a_422_with_the_reason(
    client: httpx.Client, world: World, images: object, reason: str
) -> None:
    _status(client, world, [_object(world, "uid-good")])
    bad = _object(world, "uid-bad")
    bad["observed"]["images"] = images
    response = _post_status(client, world, [bad])
    assert response.status_code == 422, response.text
    assert reason in response.text and "observed" in response.text
    assert "x" * 600 not in response.text, "the refused value is not echoed"
    assert [o["uid"] for o in _objects(client, world)] == ["uid-good"], "nothing of the report is kept"


def test_one_uid_under_two_names_is_refused_and_stores_nothing(client: httpx.Client, world: World) -> None:
    before = _objects(client, world)
    twice = [_object(world, "uid-twice"), {**_object(world, "uid-twice"), "name": "web-staging-2"}]
    cluster = ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=world.h(world.owner)))
    body = {
        "report_id": str(uuid.uuid4()),
        "epoch": cluster["epoch"],
        "applied_generation": 0,
        "reported_at": _now(),
        "services": [],
        "objects": twice,
    }
    answer = client.post(
        f"/v1/clusters/{world.cluster_id}/status", headers=world.h(world.agent_token), json=body
    )
    assert answer.status_code == 422, answer.text
    assert "each object UID may appear once per service" in answer.text
    assert _objects(client, world) == before


def test_many_objects_in_one_report_are_each_stored_current_and_present(
    client: httpx.Client, world: World
) -> None:
    many = [{**_object(world, f"uid-many-{n}", ready=n), "name": f"web-many-{n}"} for n in range(150)]
    _status(client, world, many)
    stored = {o["uid"]: o for o in _objects(client, world) if o["uid"].startswith("uid-many-")}
    assert set(stored) == {f"uid-many-{n}" for n in range(150)}
    assert all(o["current"] and o["present"] for o in stored.values())
    assert {o["observed"]["readyReplicas"] for o in stored.values()} == set(range(150))
    _status(client, world, many[:100])
    present = {o["uid"] for o in _objects(client, world) if o["current"] and o["present"]}
    assert present == {f"uid-many-{n}" for n in range(100)}


def test_objects_not_reported_for_too_long_make_the_status_stale(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    _status(client, world, [_object(world, "uid-stale")])
    status = ok(client.get(f"/v1/services/{world.web_id}/status", headers=world.h(world.owner)))
    assert status["stale_objects"] == 0 and status["alerts"] == []
    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE service_objects SET last_seen_at = now() - interval '11 minutes' WHERE service_id = %s",
            (world.web_id,),
        )
    configure_logging("info", stream=LOG_BUFFER)
    start = len(LOG_BUFFER.getvalue())
    status = ok(client.get(f"/v1/services/{world.web_id}/status", headers=world.h(world.owner)))
    assert status["stale_objects"] == 1
    assert status["alerts"] == ["observed state is stale: 1 object(s) not reported recently"]
    [stale] = _objects(client, world)
    assert stale["stale"] is True
    lines = [json.loads(line) for line in LOG_BUFFER.getvalue()[start:].splitlines() if line.strip()]
    warned = [line for line in lines if line.get("event", "").startswith("observed state is stale")]
    assert warned and warned[0]["level"] == "warning" and warned[0]["service_id"] == world.web_id
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {starbase.metrics_token}"}).text
    assert "starbase_observed_stale_objects_total 2.0" in metrics
