"""The store ports' contract, run against every store implementation (``any_store``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api
from tests.starbase.store_kit import StoreUnderTest

from starform_core.access import Actor
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.example import EXAMPLE_CHECKSUM_KEY, example_rows
from starform_core.records import EventRecord, NewDeployment, ObservedStatus

ACTOR = Actor(label="contract")


def test_payload_round_trip(any_store: StoreUnderTest) -> None:
    rows = load_rows_via_api(any_store, fresh_ids(example_rows()))
    cid = rows.cluster.cluster_id
    assert to_json(build_payload(any_store.cluster_rows(cid), checksum_key=EXAMPLE_CHECKSUM_KEY)) == to_json(
        build_payload(rows, checksum_key=EXAMPLE_CHECKSUM_KEY)
    )


def test_generation_and_failed_writes(any_store: StoreUnderTest) -> None:
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


def test_reports_and_events(any_store: StoreUnderTest) -> None:
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


def test_owner_rules(any_store: StoreUnderTest) -> None:
    """Only an Owner touches an Owner; the last Owner stays (both stores, inside the write)."""
    from starform_core.access import UserRecord, WorkspaceRole
    from starform_core.payload.rows import WorkspaceRow

    def user() -> UserRecord:
        return any_store.create_user(UserRecord(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex}@x.io"))

    owner, admin, other = user(), user(), user()
    ws = any_store.create_workspace(
        WorkspaceRow(workspace_id=str(uuid.uuid4()), name="w"), owner=Actor("o", owner.user_id)
    ).workspace_id
    as_owner, as_admin = Actor("o", owner.user_id), Actor("a", admin.user_id)
    any_store.set_workspace_member(ws, admin.user_id, WorkspaceRole.ADMIN, actor=as_owner)
    with pytest.raises(StoreConflictError):
        any_store.set_workspace_member(ws, owner.user_id, WorkspaceRole.MEMBER, actor=as_admin)
    with pytest.raises(StoreConflictError):
        any_store.set_workspace_member(ws, other.user_id, WorkspaceRole.OWNER, actor=as_admin)
    with pytest.raises(StoreConflictError):
        any_store.remove_workspace_member(ws, owner.user_id, actor=as_admin)
    with pytest.raises(StoreConflictError):
        any_store.set_workspace_member(ws, owner.user_id, WorkspaceRole.ADMIN, actor=as_owner)
    any_store.set_workspace_member(ws, other.user_id, WorkspaceRole.MEMBER, actor=as_admin)
    any_store.set_workspace_member(ws, admin.user_id, WorkspaceRole.OWNER, actor=as_owner)
    any_store.remove_workspace_member(ws, owner.user_id, actor=as_owner)
    assert any_store.roles_of(admin.user_id, ws).workspace is WorkspaceRole.OWNER
    assert any_store.roles_of(owner.user_id, ws).workspace is None
    with pytest.raises(StoreNotFoundError):
        any_store.remove_workspace_member(ws, owner.user_id, actor=Actor("a", admin.user_id))
