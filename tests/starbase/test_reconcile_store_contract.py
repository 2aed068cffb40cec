"""The reconcile-request and agent-view ports' contract, against every store implementation."""

from __future__ import annotations

import uuid

import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api
from tests.starbase.store_kit import StoreUnderTest

from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows
from starform_core.ports.reconcile import MAX_SERVED_PER_REPORT


@pytest.fixture
def loaded(any_store: StoreUnderTest) -> ClusterRows:
    return load_rows_via_api(any_store, fresh_ids(example_rows()))


def test_a_request_is_pending_until_served_and_the_view_says_so(
    any_store: StoreUnderTest, loaded: ClusterRows
) -> None:
    cid = loaded.cluster.cluster_id
    service = loaded.services[0].service_id
    view = any_store.agent_view(cid)
    assert view.version == any_store.cluster_version(cid)
    assert view.token_hash == any_store.cluster_token_hash(cid)
    assert view.pending_requests == ()
    first = any_store.request_reconcile(cid, service_id=service, requested_by="dev@example.com")
    second = any_store.request_reconcile(cid, requested_by="ops@example.com")
    assert first.served_at is None
    assert second.service_id is None
    assert any_store.agent_view(cid).pending_requests == (first.request_id, second.request_id)
    assert any_store.agent_view(cid).version == view.version, "a request is not a new generation"
    assert any_store.mark_reconciles_served(cid, [first.request_id, str(uuid.uuid4())]) == 1
    assert any_store.mark_reconciles_served(cid, [first.request_id]) == 0, "served once"
    assert any_store.agent_view(cid).pending_requests == (second.request_id,)
    listed = any_store.service_reconcile_requests(service)
    assert [r.request_id for r in listed] == [first.request_id]
    assert listed[0].served_at is not None
    assert listed[0].served_at >= listed[0].requested_at


def test_requests_stay_on_their_cluster(any_store: StoreUnderTest, loaded: ClusterRows) -> None:
    other = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid, other_id = loaded.cluster.cluster_id, other.cluster.cluster_id
    with pytest.raises(StoreNotFoundError):
        any_store.request_reconcile(cid, service_id=other.services[0].service_id, requested_by="x")
    with pytest.raises(StoreNotFoundError):
        any_store.request_reconcile(str(uuid.uuid4()), requested_by="x")
    with pytest.raises(StoreNotFoundError):
        any_store.agent_view(str(uuid.uuid4()))
    mine = any_store.request_reconcile(cid, requested_by="x")
    assert any_store.mark_reconciles_served(other_id, [mine.request_id]) == 0, (
        "another cluster cannot serve it"
    )
    assert any_store.agent_view(cid).pending_requests == (mine.request_id,)
    assert any_store.mark_reconciles_served(cid, [mine.request_id]) == 1


def test_a_report_serves_at_most_the_bounded_number(any_store: StoreUnderTest, loaded: ClusterRows) -> None:
    cid = loaded.cluster.cluster_id
    with pytest.raises(ValidationError):
        any_store.mark_reconciles_served(cid, [str(uuid.uuid4()) for _ in range(MAX_SERVED_PER_REPORT + 1)])
    made = [any_store.request_reconcile(cid, requested_by="x") for _ in range(MAX_SERVED_PER_REPORT + 5)]
    pending = any_store.agent_view(cid).pending_requests
    assert len(pending) == MAX_SERVED_PER_REPORT, "the view names the oldest 100"
    assert pending[0] == made[0].request_id
    assert any_store.mark_reconciles_served(cid, list(pending)) == MAX_SERVED_PER_REPORT
    assert any_store.agent_view(cid).pending_requests == tuple(r.request_id for r in made[-5:])
