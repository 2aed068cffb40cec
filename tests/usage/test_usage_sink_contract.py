"""The usage port's contract (:class:`~starform_core.ports.usage.UsageSink`), run against the HTTP
client on a real Starbase and against the shipped in-memory double: a new snapshot is stored, a
retry is a no-op, other content under a known id is refused for good, an unreachable Starbase
is a failure to retry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.shuttle.tenant import Tenant, make_tenant

from starform_adapters.starbase import InMemorySource, StarbaseClient
from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.payload import example_payload
from starform_core.ports.usage import UsageReceipt, UsageSink
from starform_core.usage import UsageWindow, grid_floor, snapshot_id, wire_time
from starform_testkit.starbase import RunningStarbase, running_starbase

CLUSTER = example_payload().cluster.cluster_id


@pytest.fixture(scope="module")
def starbase() -> Iterator[RunningStarbase]:
    with running_starbase() as running:
        yield running


@pytest.fixture
def tenant(starbase: RunningStarbase) -> Iterator[Tenant]:
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        yield make_tenant(starbase, http, services=1)


def _snapshot(
    cluster_id: str, workspace: str, project: str, service: str, *, cpu: str = "250m"
) -> dict[str, Any]:
    start = grid_floor(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10), dt.timedelta(minutes=1))
    window = UsageWindow(start, start + dt.timedelta(minutes=1))
    return {
        "snapshot_id": f"{snapshot_id(cluster_id, window)}@{uuid.uuid4().hex[:8]}",
        "window": {"start": wire_time(window.start), "end": wire_time(window.end)},
        "agent": "shuttle/0.1",
        "pods": [
            {
                "uid": str(uuid.uuid4()),
                "workspace_id": workspace,
                "project_id": project,
                "environment": "production",
                "service_id": service,
                "phase": "Running",
                "cpu": cpu,
                "memory": "512Mi",
            }
        ],
    }


@pytest.fixture(params=["http", "memory"])
def sink(request: pytest.FixtureRequest) -> Iterator[tuple[UsageSink, dict[str, Any]]]:
    if request.param == "memory":
        ids = [str(uuid.uuid4()) for _ in range(3)]
        yield InMemorySource(example_payload()), _snapshot(CLUSTER, *ids)
        return
    starbase: RunningStarbase = request.getfixturevalue("starbase")
    tenant: Tenant = request.getfixturevalue("tenant")
    project = tenant.http.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner_auth).json()
    client = StarbaseClient(starbase.base_url, cluster_id=tenant.cluster_id, token=tenant.agent_token)
    yield (
        client,
        _snapshot(tenant.cluster_id, project["workspace_id"], tenant.project_id, tenant.service_ids[0]),
    )
    client.close()


def test_a_new_snapshot_is_stored_and_a_retry_is_a_no_op(sink: tuple[UsageSink, dict[str, Any]]) -> None:
    port, snapshot = sink
    assert port.report_usage(snapshot) == UsageReceipt(new=True)
    assert port.report_usage(snapshot) == UsageReceipt(new=False)


def test_other_content_under_a_known_id_is_refused_for_good(sink: tuple[UsageSink, dict[str, Any]]) -> None:
    port, snapshot = sink
    port.report_usage(snapshot)
    changed = {**snapshot, "pods": [{**snapshot["pods"][0], "cpu": "1"}]}
    with pytest.raises(ReportRefusedError) as refused:
        port.report_usage(changed)
    assert refused.value.status == 409


def test_an_unreachable_starbase_is_a_failure_to_retry() -> None:
    client = StarbaseClient("http://127.0.0.1:9", cluster_id=CLUSTER, token="t", timeout=2)
    with pytest.raises(DesiredStateSourceError):
        client.report_usage(_snapshot(CLUSTER, *(str(uuid.uuid4()) for _ in range(3))))
    client.close()


def test_starbase_names_the_pods_it_did_not_bill(starbase: RunningStarbase, tenant: Tenant) -> None:
    project = tenant.http.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner_auth).json()
    snapshot = _snapshot(tenant.cluster_id, project["workspace_id"], str(uuid.uuid4()), tenant.service_ids[0])
    client = StarbaseClient(starbase.base_url, cluster_id=tenant.cluster_id, token=tenant.agent_token)
    try:
        assert client.report_usage(snapshot) == UsageReceipt(new=True, rejected=("unknown_project",))
    finally:
        client.close()
