"""The agent API port's contract, run against the HTTP client on a real Starbase and against the
shipped in-memory double; then what only the HTTP client has (tokens, transport failures)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import attrs
import httpx
import pytest
from tests.shuttle.tenant import Tenant, make_tenant

from starform_adapters.starbase import InMemorySource, StarbaseClient
from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.payload import example_payload, parse_payload
from starform_core.ports.source import AgentApi, Fetched, NotModified
from starform_testkit.starbase import RunningStarbase


@attrs.frozen
class Api:
    """One implementation of the port, and a way to change the desired state it serves."""

    port: AgentApi
    change: Callable[[], None]


@pytest.fixture
def tenant(starbase: RunningStarbase, http: httpx.Client) -> Tenant:
    return make_tenant(starbase, http, services=2)


def _client(starbase: RunningStarbase, tenant: Tenant, *, token: str | None = None) -> StarbaseClient:
    return StarbaseClient(
        starbase.base_url, cluster_id=tenant.cluster_id, token=token or tenant.agent_token, timeout=30
    )


@pytest.fixture(params=["http", "memory"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    if request.param == "memory":
        source = InMemorySource(example_payload())
        current = [example_payload()]

        def bump() -> None:
            current[0] = attrs.evolve(current[0], generation=current[0].generation + 1)
            source.publish(current[0])

        yield Api(source, bump)
        return
    starbase: RunningStarbase = request.getfixturevalue("starbase")
    tenant: Tenant = request.getfixturevalue("tenant")
    client = _client(starbase, tenant)
    yield Api(
        client, lambda: tenant.deploy(tenant.service_ids[0], "registry.example.com/t/n@sha256:" + "cd" * 32)
    )
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


def _current(api: Api) -> tuple[int, int]:
    fetched = api.port.fetch(etag=None)
    assert isinstance(fetched, Fetched)
    document = parse_payload(fetched.body)
    return document.epoch, document.generation


def test_pull_then_304_with_the_etag_then_200_after_a_change(api: Api) -> None:
    first = api.port.fetch(etag=None)
    assert isinstance(first, Fetched)
    assert not first.etag.startswith('"'), "the port hands out the bare ETag"
    document = parse_payload(first.body)
    assert document.epoch >= 1
    assert api.port.fetch(etag=first.etag) == NotModified(etag=first.etag)
    api.change()
    changed = api.port.fetch(etag=first.etag)
    assert isinstance(changed, Fetched)
    assert changed.etag != first.etag
    assert parse_payload(changed.body).generation > document.generation


def test_events_are_stored_once_per_id_and_the_answer_says_how_many_were_new(api: Api) -> None:
    batch = [_event("Applied", object="Deployment p/x"), _event("DriftReverted")]
    assert api.port.report_events(batch) == 2
    assert api.port.report_events(batch) == 0, "a retry after a lost answer stores nothing twice"
    assert api.port.report_events([batch[1], _event("Pruned")]) == 1
    assert api.port.report_events([]) == 0


def test_a_status_report_is_taken_once_and_one_from_another_history_is_refused(api: Api) -> None:
    epoch, generation = _current(api)
    report = {
        "report_id": str(uuid.uuid4()),
        "epoch": epoch,
        "applied_generation": generation,
        "services": [],
    }
    api.port.report_status(report)
    api.port.report_status(report)  # re-sent: taken again, stored once
    cases = [
        ({"epoch": epoch, "applied_generation": generation + 1000}, "generation-ahead"),
        ({"epoch": epoch + 1, "applied_generation": 1}, "epoch-ahead"),
        ({"epoch": epoch - 1, "applied_generation": 1}, "epoch-behind"),
    ]
    for body, reason in cases:
        with pytest.raises(ReportRefusedError) as refused:
            api.port.report_status({"report_id": str(uuid.uuid4()), "services": [], **body})
        assert (refused.value.status, refused.value.reason) == (409, reason)


def test_the_status_report_reaches_the_cluster_and_service_views(
    starbase: RunningStarbase, tenant: Tenant
) -> None:
    client = _client(starbase, tenant)
    try:
        fetched = client.fetch(etag=None)
        assert isinstance(fetched, Fetched)
        document = parse_payload(fetched.body)
        service_id = tenant.service_ids[0]
        client.report_status(
            {
                "report_id": str(uuid.uuid4()),
                "epoch": document.epoch,
                "applied_generation": document.generation,
                "services": [
                    {
                        "service_id": service_id,
                        "health": "healthy",
                        "reason": "",
                        "generation": document.generation,
                        "observed_at": datetime.now(UTC).isoformat(),
                        "status": {"ready_replicas": 1},
                    }
                ],
            }
        )
    finally:
        client.close()
    assert tenant.applied_generation() == document.generation
    status = tenant.http.get(f"/v1/services/{service_id}/status", headers=tenant.owner_auth).json()
    assert (status["health"], status["status"]) == ("healthy", {"ready_replicas": 1})


def test_a_wrong_token_is_a_source_error_not_a_refusal_and_is_never_echoed(
    starbase: RunningStarbase, tenant: Tenant, http: httpx.Client
) -> None:
    other = make_tenant(starbase, http)
    for token in ("sft_agent_not-a-real-token", other.agent_token):
        client = _client(starbase, tenant, token=token)
        try:
            with pytest.raises(DesiredStateSourceError, match=r"desired-state: HTTP 40[14]") as caught:
                client.fetch(etag=None)
            assert token not in str(caught.value)
            for send in (
                lambda c=client: c.report_status({"report_id": "r", "applied_generation": 1, "services": []}),
                lambda c=client: c.report_events([_event("Applied")]),
            ):
                with pytest.raises(DesiredStateSourceError, match=r"report: HTTP 40[14]") as refused:
                    send()
                assert not isinstance(refused.value, ReportRefusedError), (
                    "kept for later: the token may be fixed"
                )
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
        with pytest.raises(DesiredStateSourceError, match="ConnectError"):
            client.report_events([_event("Applied")])
    finally:
        client.close()


def test_events_reach_the_service_view_once(starbase: RunningStarbase, tenant: Tenant) -> None:
    client = _client(starbase, tenant)
    service_id = tenant.service_ids[1]
    batch = [_event("Applied", service_id, object="Deployment p/x"), _event("DriftReverted", service_id)]
    try:
        client.report_events(batch)
        client.report_events(batch)
    finally:
        client.close()
    stored = tenant.events(service_id)
    assert [e["event_id"] for e in stored] == [batch[0]["event_id"], batch[1]["event_id"]]
    assert stored[0]["data"] == {"object": "Deployment p/x"}
    assert json.dumps(stored).count(str(batch[0]["event_id"])) == 1
