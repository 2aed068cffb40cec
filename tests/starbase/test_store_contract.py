"""The store ports' contract, run against every store implementation (``any_store``)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import attrs
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api
from tests.starbase.store_kit import StoreUnderTest

from starform_core.access import Actor
from starform_core.errors import (
    AgentReportRefusedError,
    StoreConflictError,
    StoreNotFoundError,
    ValidationError,
)
from starform_core.payload.build import build_payload
from starform_core.payload.codec import to_json
from starform_core.payload.example import EXAMPLE_CHECKSUM_KEY, example_rows
from starform_core.payload.rows import ClusterRows, EnvironmentRow, ServiceRow
from starform_core.records import EventRecord, NewDeployment, ObservedStatus

ACTOR = Actor(label="contract")
DIGEST_IMAGE = "registry.example.com/a/b@sha256:" + "0" * 64


@pytest.fixture
def store(any_store: StoreUnderTest) -> StoreUnderTest:
    """The store under test (each implementation in turn)."""
    return any_store


@pytest.fixture
def loaded(store: StoreUnderTest) -> ClusterRows:
    """The example rows, loaded under fresh ids through the write ports."""
    return load_rows_via_api(store, fresh_ids(example_rows()))


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
    recent = any_store.recent_service_events(status.service_id, limit=2)
    assert [e.event_id for e in recent] == ["e1", "e2"], "the newest, oldest first"
    assert [e.event_id for e in any_store.recent_service_events(status.service_id, limit=50)] == [
        "e0",
        "e1",
        "e2",
    ]


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


def test_every_write_bumps_the_generation_once_and_reads_do_not(
    store: StoreUnderTest, loaded: ClusterRows
) -> None:
    cid = loaded.cluster.cluster_id
    before = store.cluster_generation(cid)
    store.cluster_rows(cid)
    store.list_services(loaded.projects[0].project_id)
    assert store.cluster_generation(cid) == before
    svc = loaded.services[0]
    store.update_service(attrs.evolve(svc, cpu_request="300m"), actor=ACTOR)
    assert store.cluster_generation(cid) == before + 1
    entries = store.audit_entries(cluster_id=cid)
    assert entries[-1].action == "service.update"
    assert entries[-1].generation == before + 1
    assert entries[-1].before["cpu_request"] == "250m"  # type: ignore[index]
    assert entries[-1].after["cpu_request"] == "300m"  # type: ignore[index]


def test_failed_write_bumps_nothing_and_writes_nothing(store: StoreUnderTest, loaded: ClusterRows) -> None:
    cid = loaded.cluster.cluster_id
    before = store.cluster_generation(cid)
    audit = len(store.audit_entries(cluster_id=cid))
    svc = loaded.services[0]
    with pytest.raises(ValidationError) as caught:
        store.update_service(attrs.evolve(svc, port=None), actor=ACTOR)
    assert caught.value.field.endswith("port")
    with pytest.raises(StoreConflictError):
        store.create_environment(
            EnvironmentRow(environment_id=str(uuid.uuid4()), project_id=svc.project_id, name="production"),
            actor=ACTOR,
        )
    assert store.cluster_generation(cid) == before
    assert len(store.audit_entries(cluster_id=cid)) == audit
    assert store.get_service(svc.service_id) == svc


def test_concurrent_writers_get_strictly_increasing_generations(
    store: StoreUnderTest, loaded: ClusterRows
) -> None:
    cid = loaded.cluster.cluster_id
    start = store.cluster_generation(cid)
    services = [s for s in loaded.services if s.type.value != "cron"]
    threads, per_thread = 6, 5
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def writer(index: int) -> None:
        service = services[index % len(services)]
        try:
            barrier.wait()
            for _ in range(per_thread):
                store.create_deployment(
                    NewDeployment(
                        deployment_id=str(uuid.uuid4()), service_id=service.service_id, image=DIGEST_IMAGE
                    ),
                    actor=ACTOR,
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    end = store.cluster_generation(cid)
    assert end == start + threads * per_thread
    generations = [
        e.generation for e in store.audit_entries(cluster_id=cid) if e.generation and e.generation > start
    ]
    assert generations == list(range(start + 1, end + 1)), "no gaps, no duplicates, commit order"
    for service in services[:threads]:
        versions = [d.version for d in store.list_deployments(service.service_id)]
        assert versions == sorted(set(versions), reverse=True)
        assert versions[-1] == 1


def test_events_naming_another_clusters_service_are_refused(
    store: StoreUnderTest, loaded: ClusterRows
) -> None:
    from datetime import UTC, datetime

    other = load_rows_via_api(store, fresh_ids(example_rows()))
    event = EventRecord(
        event_id="x", type="Applied", occurred_at=datetime.now(UTC), service_id=other.services[0].service_id
    )
    with pytest.raises(ValidationError, match="another cluster"):
        store.append_events(loaded.cluster.cluster_id, [event])


def test_unknown_ids_are_not_found(store: StoreUnderTest) -> None:
    missing = str(uuid.uuid4())
    for call in (
        lambda: store.get_service(missing),
        lambda: store.get_project(missing),
        lambda: store.get_cluster(missing),
        lambda: store.cluster_generation(missing),
        lambda: store.delete_service(missing, actor=ACTOR),
        lambda: store.get_deployment(missing, 1),
    ):
        with pytest.raises(StoreNotFoundError):
            call()


def test_service_round_trip_keeps_structured_columns(store: StoreUnderTest, loaded: ClusterRows) -> None:
    for service in loaded.services:
        assert store.get_service(service.service_id) == service
    by_project = {p.project_id: p for p in loaded.projects}
    for project_id, project in by_project.items():
        assert store.get_project(project_id) == project
        assert sorted(store.list_services(project_id), key=lambda s: s.service_id) == sorted(
            (s for s in loaded.services if s.project_id == project_id), key=lambda s: s.service_id
        )
        assert sorted(store.list_environments(project_id), key=lambda e: e.environment_id) == sorted(
            (e for e in loaded.environments if e.project_id == project_id), key=lambda e: e.environment_id
        )
        assert sorted(store.list_var_groups(project_id), key=lambda g: g.var_group_id) == sorted(
            (g for g in loaded.var_groups if g.project_id == project_id), key=lambda g: g.var_group_id
        )
    for volume in loaded.volumes:
        assert store.get_volume(volume.volume_id) == volume
    for link in loaded.service_var_groups:
        assert link in store.list_attachments(link.service_id)
    for host in loaded.hostnames:
        assert host.hostname in store.list_hostnames(host.service_id)
    stored_cluster = store.get_cluster(loaded.cluster.cluster_id)
    assert stored_cluster == loaded.cluster


def test_deletes_cascade_and_bump(store: StoreUnderTest, loaded: ClusterRows) -> None:
    cid = loaded.cluster.cluster_id
    svc = next(s for s in loaded.services if any(v.service_id == s.service_id for v in loaded.volumes))
    volume = next(v for v in loaded.volumes if v.service_id == svc.service_id)
    before = store.cluster_generation(cid)
    store.delete_volume(volume.volume_id, actor=ACTOR)
    store.delete_service(svc.service_id, actor=ACTOR)
    assert store.cluster_generation(cid) == before + 2
    with pytest.raises(StoreNotFoundError):
        store.get_service(svc.service_id)
    rows = store.cluster_rows(cid)
    assert svc.service_id not in {s.service_id for s in rows.services}
    env = next(e for e in loaded.environments if e.name == "pr-128")
    store.delete_environment(env.environment_id, actor=ACTOR)
    assert all(s.environment_id != env.environment_id for s in store.cluster_rows(cid).services)
    group = loaded.var_groups[0]
    store.delete_var_group(group.var_group_id, actor=ACTOR)
    assert all(a.var_group_id != group.var_group_id for a in store.cluster_rows(cid).service_var_groups)


def test_service_row_defaults_round_trip(store: StoreUnderTest, loaded: ClusterRows) -> None:
    env = loaded.environments[0]
    row = ServiceRow(
        service_id=str(uuid.uuid4()),
        project_id=env.project_id,
        environment_id=env.environment_id,
        name="plain",
        type="worker",
        state="active",
    )
    store.create_service(row, actor=ACTOR)
    assert store.get_service(row.service_id) == row


def test_people_and_workspaces_round_trip(store: StoreUnderTest) -> None:
    from starform_core.access import ProjectRole, Roles, UserRecord, WorkspaceRole
    from starform_core.payload.rows import WorkspaceRow

    user = UserRecord(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex}@x.example", name="A")
    other = UserRecord(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex}@x.example")
    assert store.create_user(user) == user
    store.create_user(other)
    assert store.get_user(user_id=user.user_id) == user
    assert store.get_user(email=user.email) == user
    with pytest.raises(StoreConflictError, match="email"):
        store.create_user(attrs.evolve(other, user_id=str(uuid.uuid4()), email=user.email))
    ws = WorkspaceRow(workspace_id=str(uuid.uuid4()), name="Acme")
    store.create_workspace(ws, owner=Actor(label=user.email, user_id=user.user_id))
    assert store.get_workspace(ws.workspace_id) == ws
    assert store.list_workspaces(user.user_id) == [ws]
    assert store.roles_of(user.user_id, ws.workspace_id) == Roles(workspace=WorkspaceRole.OWNER)
    store.set_workspace_member(ws.workspace_id, other.user_id, WorkspaceRole.MEMBER, actor=ACTOR)
    store.set_workspace_member(ws.workspace_id, other.user_id, WorkspaceRole.BILLING, actor=ACTOR)
    assert store.roles_of(other.user_id, ws.workspace_id).workspace is WorkspaceRole.BILLING
    rows = fresh_ids(example_rows())
    store.register_cluster(rows.cluster, agent_token_hash=uuid.uuid4().bytes * 2, actor=ACTOR)
    project = attrs.evolve(rows.projects[0], workspace_id=ws.workspace_id)
    store.create_project(project, actor=ACTOR)
    store.set_project_member(project.project_id, other.user_id, ProjectRole.VIEWER, actor=ACTOR)
    assert store.roles_of(other.user_id, ws.workspace_id, project.project_id) == Roles(
        workspace=WorkspaceRole.BILLING, project=ProjectRole.VIEWER
    )
    assert store.list_projects(ws.workspace_id) == [project]


def _attempt(epoch: int, generation: int, outcome: str = "applied", **counts: int) -> dict[str, object]:
    return {"epoch": epoch, "generation": generation, "outcome": outcome, "counts": counts, "reasons": {}}


def test_a_resent_report_is_stored_once_and_the_agent_state_follows_the_latest(
    any_store: StoreUnderTest,
) -> None:
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


def test_reports_of_another_epoch_or_ahead_are_refused_and_recorded(any_store: StoreUnderTest) -> None:
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


def test_a_new_epoch_is_greater_than_any_seen_and_forgets_the_applied_generation(
    any_store: StoreUnderTest,
) -> None:
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


def test_cluster_events_page_through_every_event_of_the_cluster(any_store: StoreUnderTest) -> None:
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


def test_one_rule_chooses_the_current_release_for_the_payload_the_api_and_the_spec(
    store: StoreUnderTest, loaded: ClusterRows
) -> None:
    """The highest version is current (a rollback is a new, higher version); the payload's rows,
    ``current_release`` and the newest of ``list_deployments`` name the same row, one a service."""
    cid = loaded.cluster.cluster_id
    service_id = loaded.deployments[0].service_id
    history = store.list_deployments(service_id)
    oldest, newest = history[-1], history[0]
    later = "registry.example.com/a/b@sha256:" + "1" * 64
    for image in (later, oldest.image):  # a deploy, then a rollback to the first image
        store.create_deployment(
            NewDeployment(deployment_id=str(uuid.uuid4()), service_id=service_id, image=image), actor=ACTOR
        )
    rows = store.cluster_rows(cid)
    in_rows = {d.service_id: d for d in rows.deployments}
    assert len(in_rows) == len(rows.deployments) == len(loaded.deployments), "one release a service"
    for dep in rows.deployments:
        versions = store.list_deployments(dep.service_id)
        assert dep == store.current_release(dep.service_id) == versions[0]
        assert dep.version == max(d.version for d in versions)
    rolled_back = in_rows[service_id]
    assert (rolled_back.version, rolled_back.image) == (newest.version + 2, oldest.image)
    payload = build_payload(rows, checksum_key=EXAMPLE_CHECKSUM_KEY)
    (service,) = [s for p in payload.projects for s in p.services if s.service_id == service_id]
    assert service.release is not None
    assert (service.release.version, service.release.image) == (rolled_back.version, oldest.image)
    assert store.current_release(str(uuid.uuid4())) is None


def test_a_service_without_a_deployment_has_no_current_release(
    store: StoreUnderTest, loaded: ClusterRows
) -> None:
    env = loaded.environments[0]
    service = store.create_service(
        ServiceRow(
            service_id=str(uuid.uuid4()),
            project_id=env.project_id,
            environment_id=env.environment_id,
            name=f"s{uuid.uuid4().hex[:8]}",
            type="worker",
            state="active",
        ),
        actor=ACTOR,
    )
    assert store.current_release(service.service_id) is None
    assert service.service_id not in {
        d.service_id for d in store.cluster_rows(loaded.cluster.cluster_id).deployments
    }
