"""Billing's endpoints under Starbase's guards: body limits (a 1,000-pod snapshot fits, and so
does the largest snapshot the API accepts), the agents' rate quota on usage snapshots, and the
webhook's own quota (a signed request needs no bearer token)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.starbase.world import World, build_world

from starform_apps.starbase import bounds
from starform_apps.starbase.billing import BillingConfig
from starform_apps.starbase.quotas import Quota
from starform_core.billing import MAX_SAMPLES
from starform_core.ports.ratelimit import RateLimit
from starform_testkit.starbase import RunningStarbase, running_starbase
from starform_testkit.stripe_testserver import StripeTestServer, signature_header

SECRET = "whsec_test_" + "b" * 24
AGENT_QUOTA = 4


@pytest.fixture(scope="module")
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """Starbase with a Stripe test server, a small agent quota and a small webhook quota."""
    with StripeTestServer() as server:
        config = BillingConfig(
            stripe_api_key=server.api_key, stripe_webhook_secret=SECRET, stripe_api_base=server.url
        )
        limits = {Quota.AGENT: RateLimit(AGENT_QUOTA, 60), Quota.WEBHOOK: RateLimit(2, 60)}
        with running_starbase(server_url=pg_server, billing=config, rate_limits=limits) as running:
            yield running


@pytest.fixture
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=starbase.base_url, timeout=60) as http:
        yield http


def _window() -> dict[str, str]:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {"start": (end - dt.timedelta(seconds=60)).isoformat(), "end": end.isoformat()}


def _pods(world: World, count: int) -> list[dict[str, Any]]:
    return [
        {
            "uid": str(uuid.uuid4()),
            "workspace_id": world.workspace_id,
            "project_id": world.project_id,
            "environment": "staging",
            "service_id": world.web_id,
            "phase": "Running",
            "cpu": "250m",
            "memory": "512Mi",
        }
        for _ in range(count)
    ]


def _post(client: httpx.Client, world: World, content: bytes) -> httpx.Response:
    return client.post(
        f"/v1/clusters/{world.cluster_id}/usage-snapshots",
        content=content,
        headers={"Authorization": f"Bearer {world.agent_token}", "Content-Type": "application/json"},
    )


def test_the_largest_snapshot_the_api_accepts_fits_the_agent_body_limit() -> None:
    """Every field at its longest, the most samples a snapshot may carry, JSON with spaces."""
    moment = "2026-11-30T10:00:00.123456+00:00"
    pod = {
        "uid": "0" * 36,
        "workspace_id": "0" * 36,
        "project_id": "0" * 36,
        "environment": "e" * 30,
        "service_id": "0" * 36,
        "phase": "Succeeded",
        "cpu": "9" * 32,
        "memory": "9" * 32,
        "running_since": moment,
        "running_until": moment,
    }
    body = {
        "snapshot_id": "s" * 200,
        "window": {"start": moment, "end": moment},
        "agent": "a" * 200,
        "pods": [pod] * MAX_SAMPLES,
    }
    assert len(json.dumps(body, indent=1).encode()) < bounds.MAX_AGENT_BODY_BYTES


def test_a_thousand_pod_snapshot_is_billed_and_an_oversized_one_refused_unread(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    world = build_world(starbase, client)
    body = json.dumps({"snapshot_id": "thousand", "window": _window(), "pods": _pods(world, 1000)}).encode()
    assert len(body) < bounds.MAX_AGENT_BODY_BYTES // 20
    answer = _post(client, world, body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["billed"] == 1000
    huge = b'{"snapshot_id": "huge", "pods": [' + b" " * bounds.MAX_AGENT_BODY_BYTES + b"]}"
    refused = _post(client, world, huge)
    assert refused.status_code == 413
    assert str(bounds.MAX_AGENT_BODY_BYTES) in refused.json()["detail"]


def test_usage_snapshots_are_on_the_agents_own_quota(starbase: RunningStarbase, client: httpx.Client) -> None:
    world = build_world(starbase, client)
    pull = client.get(
        f"/v1/clusters/{world.cluster_id}/desired-state", headers=starbase.auth(world.agent_token)
    )
    assert pull.status_code == 200
    for index in range(AGENT_QUOTA - 1):
        body = {"snapshot_id": f"q-{index}", "window": _window(), "pods": _pods(world, 1)}
        assert _post(client, world, json.dumps(body).encode()).status_code == 201
    refused = _post(client, world, json.dumps({"snapshot_id": "late", "window": _window()}).encode())
    assert refused.status_code == 429, "a pull and the snapshots share the agent's budget"
    assert "agent" in refused.json()["detail"] and int(refused.headers["retry-after"]) >= 1
    person = client.get(f"/v1/workspaces/{world.workspace_id}/invoices", headers=starbase.auth(world.owner))
    assert person.status_code == 200, "people are on their own budgets"


def test_webhooks_need_no_bearer_token_and_have_their_own_quota(starbase: RunningStarbase) -> None:
    def deliver(event_id: str) -> httpx.Response:
        body = json.dumps(
            {
                "id": event_id,
                "object": "event",
                "type": "customer.created",
                "created": int(time.time()),
                "data": {"object": {"id": "cus_1", "object": "customer"}},
            }
        ).encode()
        return httpx.post(
            f"{starbase.base_url}/v1/billing/webhooks/stripe",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(SECRET, body, int(time.time())),
            },
            timeout=30,
        )

    assert [deliver(f"evt_q{n}").status_code for n in range(2)] == [200, 200]
    refused = deliver("evt_q2")
    assert refused.status_code == 429 and "webhooks" in refused.json()["detail"]
    assert starbase.starbase.metrics.rate_limited.labels(quota="webhook")._value.get() >= 1
