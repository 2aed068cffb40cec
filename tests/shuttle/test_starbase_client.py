"""StarbaseClient against a real Starbase: ETag pull, auth errors, status and idempotent events."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from tests.shuttle.tenant import Tenant, make_tenant

from starform_adapters.starbase import StarbaseClient
from starform_core.errors import DesiredStateSourceError
from starform_core.payload import parse_payload
from starform_core.ports.source import DesiredStateSource, Fetched, NotModified
from starform_testkit.starbase import RunningStarbase


@pytest.fixture
def tenant(starbase: RunningStarbase, http: httpx.Client) -> Tenant:
    return make_tenant(starbase, http, services=2)


def _client(starbase: RunningStarbase, tenant: Tenant, *, token: str | None = None) -> StarbaseClient:
    return StarbaseClient(
        starbase.base_url, cluster_id=tenant.cluster_id, token=token or tenant.agent_token, timeout=30
    )


def test_pull_then_304_with_the_etag_then_200_after_a_change(
    starbase: RunningStarbase, tenant: Tenant
) -> None:
    client = _client(starbase, tenant)
    source: DesiredStateSource = client
    try:
        first = source.fetch(etag=None)
        assert isinstance(first, Fetched)
        assert not first.etag.startswith('"'), "the client stores the bare ETag"
        document = parse_payload(first.body)
        assert document.cluster.cluster_id == tenant.cluster_id
        assert {s.service_id for p in document.projects for s in p.services} == set(tenant.service_ids)
        assert first.body == tenant.desired_state()

        unchanged = source.fetch(etag=first.etag)
        assert unchanged == NotModified(etag=first.etag)

        tenant.deploy(tenant.service_ids[0], "registry.example.com/team/new@sha256:" + "cd" * 32)
        changed = source.fetch(etag=first.etag)
        assert isinstance(changed, Fetched)
        assert changed.etag != first.etag
        assert parse_payload(changed.body).generation > document.generation
    finally:
        client.close()


def test_a_wrong_token_is_a_source_error_that_does_not_echo_the_token(
    starbase: RunningStarbase, tenant: Tenant, http: httpx.Client
) -> None:
    other = make_tenant(starbase, http)
    for token in ("sft_agent_not-a-real-token", other.agent_token):
        client = _client(starbase, tenant, token=token)
        try:
            with pytest.raises(DesiredStateSourceError, match=r"desired-state: HTTP 40[14]") as caught:
                client.fetch(etag=None)
            assert token not in str(caught.value)
            with pytest.raises(DesiredStateSourceError, match=r"status report: HTTP 40[14]"):
                client.report_status(applied_generation=1, services=[])
            with pytest.raises(DesiredStateSourceError, match=r"event report: HTTP 40[14]"):
                client.report_events([_event("Applied")])
        finally:
            client.close()


def test_an_unreachable_starbase_is_a_source_error(tenant: Tenant) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = StarbaseClient(f"http://127.0.0.1:{port}", cluster_id=tenant.cluster_id, token="t", timeout=5)
    try:
        with pytest.raises(DesiredStateSourceError, match="ConnectError"):
            client.fetch(etag=None)
    finally:
        client.close()


def test_status_report_is_accepted_and_recorded(starbase: RunningStarbase, tenant: Tenant) -> None:
    client = _client(starbase, tenant)
    try:
        fetched = client.fetch(etag=None)
        assert isinstance(fetched, Fetched)
        generation = parse_payload(fetched.body).generation
        assert tenant.applied_generation() is None
        service_id = tenant.service_ids[0]
        client.report_status(
            applied_generation=generation,
            services=[
                {
                    "service_id": service_id,
                    "health": "healthy",
                    "reason": "",
                    "generation": generation,
                    "observed_at": datetime.now(UTC).isoformat(),
                    "status": {"ready_replicas": 1},
                }
            ],
        )
        assert tenant.applied_generation() == generation
        status = tenant.http.get(f"/v1/services/{service_id}/status", headers=tenant.owner_auth).json()
        assert (status["health"], status["status"]) == ("healthy", {"ready_replicas": 1})
        with pytest.raises(DesiredStateSourceError, match="status report: HTTP 409"):
            client.report_status(applied_generation=generation + 100, services=[])
    finally:
        client.close()


def _event(type_: str, service_id: str | None = None, **data: object) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "reason": "missing",
        "message": f"{type_} for the test",
        "service_id": service_id,
        "data": dict(data),
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def test_events_are_stored_once_per_id(starbase: RunningStarbase, tenant: Tenant) -> None:
    client = _client(starbase, tenant)
    service_id = tenant.service_ids[1]
    batch = [_event("Applied", service_id, object="Deployment p/x"), _event("DriftReverted", service_id)]
    try:
        client.report_events(batch)
        client.report_events(batch)  # a retry after a lost answer
        client.report_events([batch[1], _event("Pruned", service_id)])
        client.report_events([])  # nothing to send: no request
    finally:
        client.close()
    stored = tenant.events(service_id)
    assert [e["event_id"] for e in stored] == [
        batch[0]["event_id"],
        batch[1]["event_id"],
        stored[2]["event_id"],
    ]
    assert [e["type"] for e in stored] == ["Applied", "DriftReverted", "Pruned"]
    assert stored[0]["data"] == {"object": "Deployment p/x"}
    assert json.dumps(stored).count(str(batch[0]["event_id"])) == 1
    assert tenant.events(tenant.service_ids[0]) == []
