"""The agent report API over HTTP: de-duplicated status reports, refusals (409 with a reason,
a warning line, a metric, the cluster view), the cluster view's apply state, new epochs and the
operators' cluster events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import World, build_world, ok

from starform_apps.starbase.logs import configure_logging
from starform_testkit.starbase import RunningStarbase


@pytest.fixture
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def _cluster(client: httpx.Client, world: World) -> dict[str, Any]:
    return ok(client.get(f"/v1/clusters/{world.cluster_id}", headers=world.h(world.owner)))


def _report(client: httpx.Client, world: World, **body: Any) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{world.cluster_id}/status", headers=world.h(world.agent_token), json=body
    )


def _attempt(epoch: int, generation: int, outcome: str, **counts: int) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "generation": generation,
        "outcome": outcome,
        "counts": counts,
        "reasons": {"mass-deletion": counts.get("held", 0)} if counts.get("held") else {},
        "objects": [
            {"object": "Secret sf-x/vg-1", "kind": "Secret", "state": "held", "reason": "mass-deletion"}
        ]
        if counts.get("held")
        else [],
    }


def test_the_cluster_view_shows_what_the_agent_applied_held_and_attempted(
    client: httpx.Client, world: World
) -> None:
    cluster = _cluster(client, world)
    epoch, generation = cluster["epoch"], cluster["generation"]
    assert epoch > 1_700_000_000_000, "an epoch is the Unix milliseconds its history began"
    assert (cluster["applied"], cluster["last_attempted_generation"], cluster["agent"]) == (None, None, None)
    body = {
        "report_id": str(uuid.uuid4()),
        "epoch": epoch,
        "applied_generation": generation - 1,
        "attempt": _attempt(epoch, generation, "held", applied=4, held=30, unchanged=10),
        "reported_at": datetime.now(UTC).isoformat(),
        "agent": "shuttle/test",
        "services": [],
    }
    accepted = ok(_report(client, world, **body), 201)
    assert accepted["desired_generation"] == generation and accepted["epoch"] == epoch
    assert ok(_report(client, world, **body), 201)["report_id"] == accepted["report_id"], "stored once"
    cluster = _cluster(client, world)
    assert cluster["applied"] is False
    assert cluster["held"] == 30 and cluster["failed"] == 0
    assert cluster["last_attempted_generation"] == generation
    assert cluster["last_applied_generation"] == generation - 1
    assert cluster["agent"]["outcome"] == "held"
    assert cluster["agent"]["reasons"] == {"mass-deletion": 30}
    assert cluster["agent"]["objects"][0]["state"] == "held"
    applied = {
        **body,
        "report_id": str(uuid.uuid4()),
        "applied_generation": generation,
        "attempt": _attempt(epoch, generation, "applied", applied=30),
        "reported_at": datetime.now(UTC).isoformat(),
    }
    applied["rejected_payload"] = {
        "reason": "invalid",
        "etag": "abc",
        "detail": "/generation: 'x' is not an integer",
    }
    ok(_report(client, world, **applied), 201)
    cluster = _cluster(client, world)
    assert (cluster["applied"], cluster["held"], cluster["last_applied_generation"]) == (True, 0, generation)
    assert cluster["agent"]["rejected_payload"]["reason"] == "invalid", "the payload the agent refused shows"


def test_a_refused_report_is_409_with_a_reason_a_warning_a_metric_and_shows_in_the_view(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    configure_logging("info", stream=LOG_BUFFER)
    start = len(LOG_BUFFER.getvalue())
    cluster = _cluster(client, world)
    refused = _report(client, world, epoch=cluster["epoch"], applied_generation=cluster["generation"] + 1000)
    assert refused.status_code == 409
    assert refused.json()["reason"] == "generation-ahead"
    assert "ahead of the desired generation" in refused.json()["detail"]
    ahead = _report(client, world, epoch=cluster["epoch"] + 1, applied_generation=1)
    assert (ahead.status_code, ahead.json()["reason"]) == (409, "epoch-ahead")
    assert "new-epoch" in ahead.json()["detail"], "it tells the operator what to do"
    view = _cluster(client, world)["agent"]
    assert view["refused_reports"] == 2
    assert view["last_refused_reason"].startswith("epoch-ahead")
    lines = [json.loads(line) for line in LOG_BUFFER.getvalue()[start:].splitlines() if line]
    warnings = [line for line in lines if line.get("event") == "agent report refused"]
    assert [(w["level"], w["reason"], w["cluster_id"]) for w in warnings] == [
        ("warning", "generation-ahead", world.cluster_id),
        ("warning", "epoch-ahead", world.cluster_id),
    ]
    metrics = client.get("/metrics", headers=starbase.auth(starbase.metrics_token)).text
    assert 'starbase_agent_reports_refused_total{reason="generation-ahead"}' in metrics
    assert 'starbase_agent_reports_refused_total{reason="epoch-ahead"}' in metrics


def test_an_operator_starts_a_new_epoch_and_the_payload_carries_it(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    before = _cluster(client, world)
    old = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.agent_token))
    assert old.json()["epoch"] == before["epoch"]
    forbidden = client.post(f"/v1/clusters/{world.cluster_id}/new-epoch", headers=world.h(world.owner))
    assert forbidden.status_code == 403
    new = ok(client.post(f"/v1/clusters/{world.cluster_id}/new-epoch", headers=world.h(world.operator)))
    assert new["epoch"] > before["epoch"] and new["generation"] == before["generation"]
    after = _cluster(client, world)
    assert (after["epoch"], after["last_applied_generation"]) == (new["epoch"], None)
    served = client.get(
        f"/v1/clusters/{world.cluster_id}/desired-state",
        headers={**world.h(world.agent_token), "If-None-Match": old.headers["ETag"]},
    )
    assert served.status_code == 200, "a new epoch is a new payload, at the same generation"
    assert (served.json()["epoch"], served.json()["generation"]) == (new["epoch"], before["generation"])
    stale = _report(client, world, epoch=before["epoch"], applied_generation=1)
    assert (stale.status_code, stale.json()["reason"]) == (409, "epoch-behind")
    missing = client.post(f"/v1/clusters/{uuid.uuid4()}/new-epoch", headers=world.h(world.operator))
    assert missing.status_code == 404


def test_operators_page_through_a_clusters_events(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    now = datetime.now(UTC).isoformat()
    events = [
        {
            "event_id": f"ev-{i}",
            "type": "PruneHeld" if i % 2 else "Applied",
            "reason": "",
            "message": "",
            "service_id": None if i % 2 else world.web_id,
            "data": {},
            "occurred_at": now,
        }
        for i in range(5)
    ]
    posted = ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events",
            headers=world.h(world.agent_token),
            json={"events": events},
        )
    )
    assert posted == {"received": 5, "stored": 5}
    again = ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/events",
            headers=world.h(world.agent_token),
            json={"events": events},
        )
    )
    assert again == {"received": 5, "stored": 0}
    url = f"/v1/clusters/{world.cluster_id}/events"
    assert client.get(url, headers=world.h(world.owner)).status_code == 403
    page = ok(client.get(url, headers=world.h(world.operator), params={"limit": 3}))
    assert [e["event_id"] for e in page["events"]] == ["ev-0", "ev-1", "ev-2"]
    rest = ok(client.get(url, headers=world.h(world.operator), params={"after": page["next_after"]}))
    assert [e["event_id"] for e in rest["events"]] == ["ev-3", "ev-4"]
    metrics = client.get("/metrics", headers=starbase.auth(starbase.metrics_token)).text
    assert 'starbase_agent_events_total{result="duplicate"}' in metrics
