"""The store port's contract, run against the in-memory double and the PostgreSQL store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api

from starform_adapters.memory_store import MemoryStore
from starform_adapters.postgres import PostgresStore
from starform_core.errors import (
    AgentReportRefusedError,
    StoreConflictError,
    StoreNotFoundError,
    ValidationError,
)
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.example import EXAMPLE_CHECKSUM_KEY, example_rows
from starform_core.ports.store import Actor, EventRecord, NewDeployment, ObservedStatus, Store

ACTOR = Actor(label="contract")


@pytest.fixture(params=["memory", "postgres"])
def any_store(request: pytest.FixtureRequest, store: PostgresStore) -> Store:
    return MemoryStore() if request.param == "memory" else store


def test_payload_round_trip(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    assert to_json(build_payload(any_store.cluster_rows(cid), checksum_key=EXAMPLE_CHECKSUM_KEY)) == to_json(
        build_payload(rows, checksum_key=EXAMPLE_CHECKSUM_KEY)
    )


def test_generation_and_failed_writes(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    gen = any_store.cluster_generation(cid)
    service = rows.services[0]
    any_store.create_deployment(
        NewDeployment(
            deployment_id=str(uuid.uuid4()), service_id=service.service_id, image=rows.deployments[0].image
        ),
        actor=ACTOR,
    )
    assert any_store.cluster_generation(cid) == gen + 1
    with pytest.raises(ValidationError):
        any_store.update_service(attrs.evolve(service, replicas=3), actor=ACTOR)  # has autoscaling
    with pytest.raises(StoreConflictError):
        any_store.create_service(attrs.evolve(service, service_id=str(uuid.uuid4())), actor=ACTOR)
    with pytest.raises(StoreNotFoundError):
        any_store.get_service(str(uuid.uuid4()))
    assert any_store.cluster_generation(cid) == gen + 1
    assert any_store.get_service(service.service_id) == service


def test_reports_and_events(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    gen = any_store.cluster_generation(cid)
    now = datetime.now(UTC)
    status = ObservedStatus(
        service_id=rows.services[0].service_id, health="healthy", generation=gen, observed_at=now
    )
    with pytest.raises(StoreConflictError):
        any_store.record_status(cid, applied_generation=gen + 1, statuses=[status])
    any_store.record_status(cid, applied_generation=gen, statuses=[status])
    assert any_store.last_applied(cid)[0] == gen
    assert any_store.service_status(status.service_id) == status
    events = [
        EventRecord(event_id=f"e{i}", type="Applied", occurred_at=now, service_id=status.service_id)
        for i in range(3)
    ]
    assert any_store.append_events(cid, events) == 3
    assert any_store.append_events(cid, events) == 0
    page = any_store.service_events(status.service_id, limit=2)
    assert [e.event_id for e in page.events] == ["e0", "e1"]
    assert page.next_after is not None
    rest = any_store.service_events(status.service_id, after=page.next_after, limit=2)
    assert [e.event_id for e in rest.events] == ["e2"]
    assert rest.next_after is None


def _attempt(epoch: int, generation: int, outcome: str = "applied", **counts: int) -> dict[str, object]:
    return {"epoch": epoch, "generation": generation, "outcome": outcome, "counts": counts, "reasons": {}}


def test_a_resent_report_is_stored_once_and_the_agent_state_follows_the_latest(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    epoch, gen = any_store.cluster_version(cid)
    assert any_store.agent_state(cid).outcome is None
    first = any_store.record_status(
        cid,
        applied_generation=gen - 1,
        statuses=[],
        agent="shuttle/test",
        report_key="r-1",
        epoch=epoch,
        attempt=_attempt(epoch, gen, "held", held=3),
        reported_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )
    again = any_store.record_status(
        cid,
        applied_generation=gen - 1,
        statuses=[],
        report_key="r-1",
        epoch=epoch,
        attempt=_attempt(epoch, gen),
    )
    assert again == first, "a re-sent report is stored once"
    state = any_store.agent_state(cid)
    assert (state.epoch, state.reported_epoch, state.attempted_generation, state.outcome) == (
        epoch,
        epoch,
        gen,
        "held",
    )
    assert state.attempt["counts"] == {"held": 3}
    assert state.agent == "shuttle/test"
    assert any_store.last_applied(cid)[0] == gen - 1
    older = datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    any_store.record_status(
        cid,
        applied_generation=gen - 1,
        statuses=[],
        report_key="r-0",
        epoch=epoch,
        attempt=_attempt(epoch, gen, "failed"),
        reported_at=older,
    )
    assert any_store.agent_state(cid).outcome == "held", (
        "a report made earlier does not overwrite a later one"
    )


def test_reports_of_another_epoch_or_ahead_are_refused_and_recorded(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    epoch, gen = any_store.cluster_version(cid)
    cases = [
        ({"epoch": epoch + 5, "applied_generation": 1}, "epoch-ahead"),
        ({"epoch": epoch - 1, "applied_generation": 1}, "epoch-behind"),
        ({"epoch": epoch, "applied_generation": gen + 1000}, "generation-ahead"),
        ({"epoch": epoch, "applied_generation": 1, "attempt": _attempt(epoch, gen + 1)}, "generation-ahead"),
    ]
    for count, (report, reason) in enumerate(cases, start=1):
        with pytest.raises(AgentReportRefusedError) as refused:
            any_store.record_status(cid, statuses=[], **report)  # type: ignore[arg-type]
        assert refused.value.reason == reason
        assert isinstance(refused.value, StoreConflictError), "a 409"
        state = any_store.agent_state(cid)
        assert state.refused_reports == count
        assert state.last_refused_reason is not None and state.last_refused_reason.startswith(reason)
        assert state.last_refused_at is not None
    assert any_store.last_applied(cid) == (None, None), "nothing refused moved the applied generation"


def test_a_new_epoch_is_greater_than_any_seen_and_forgets_the_applied_generation(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    epoch, gen = any_store.cluster_version(cid)
    any_store.record_status(cid, applied_generation=gen, statuses=[], epoch=epoch)
    assert any_store.last_applied(cid)[0] == gen
    seen = epoch + 10**12  # an agent that saw a history this database does not know (a restore)
    with pytest.raises(AgentReportRefusedError):
        any_store.record_status(cid, applied_generation=gen, statuses=[], epoch=seen)
    new = any_store.new_epoch(cid, actor=ACTOR)
    assert new > seen
    assert any_store.cluster_version(cid) == (new, gen), "the generation is unchanged"
    assert any_store.last_applied(cid) == (None, None)
    assert any_store.agent_state(cid).epoch == new
    audit = [e for e in any_store.audit_entries(cluster_id=cid) if e.action == "cluster.new_epoch"]
    assert [(e.before, e.after) for e in audit] == [({"epoch": epoch}, {"epoch": new})]
    with pytest.raises(AgentReportRefusedError, match="epoch-behind"):
        any_store.record_status(cid, applied_generation=gen, statuses=[], epoch=epoch)
    any_store.record_status(cid, applied_generation=gen, statuses=[], epoch=new)
    assert any_store.last_applied(cid)[0] == gen
    assert any_store.new_epoch(cid, actor=ACTOR) > new
    with pytest.raises(StoreNotFoundError):
        any_store.new_epoch(str(uuid.uuid4()), actor=ACTOR)


def test_cluster_events_page_through_every_event_of_the_cluster(any_store: Store) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    now = datetime.now(UTC)
    service = rows.services[0].service_id
    events = [
        EventRecord(event_id=f"c{i}", type="Applied", occurred_at=now, service_id=service if i % 2 else None)
        for i in range(5)
    ]
    any_store.append_events(cid, events)
    page = any_store.cluster_events(cid, limit=3)
    assert [e.event_id for e in page.events] == ["c0", "c1", "c2"]
    assert page.next_after is not None
    rest = any_store.cluster_events(cid, after=page.next_after, limit=3)
    assert [e.event_id for e in rest.events] == ["c3", "c4"]
    assert rest.next_after is None
    assert [e.service_id for e in rest.events] == [service, None]
