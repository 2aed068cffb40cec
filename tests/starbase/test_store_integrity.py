"""PostgreSQL store integrity: generations, concurrency, encryption at rest, append-only tables."""

from __future__ import annotations

import base64
import threading
import uuid

import attrs
import psycopg
import pytest
from tests.starbase.example_data import fresh_ids, load_rows_via_api

from starform_adapters.postgres import EncryptionKeyError, PostgresStore, VarCipher, open_pool
from starform_core.access import Actor
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.payload.example import example_rows
from starform_core.payload.rows import ClusterRows, EnvironmentRow, ServiceRow
from starform_core.records import EventRecord, NewDeployment
from starform_core.secrets_values import SecretValue

ACTOR = Actor(label="test")
DIGEST_IMAGE = "registry.example.com/a/b@sha256:" + "0" * 64


@pytest.fixture
def loaded(store: PostgresStore) -> ClusterRows:
    return load_rows_via_api(store, fresh_ids(example_rows()))


def test_every_write_bumps_the_generation_once_and_reads_do_not(
    store: PostgresStore, loaded: ClusterRows
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


def test_failed_write_bumps_nothing_and_writes_nothing(store: PostgresStore, loaded: ClusterRows) -> None:
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
    store: PostgresStore, loaded: ClusterRows
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


def test_values_are_ciphertext_at_rest(store: PostgresStore, database_url: str, loaded: ClusterRows) -> None:
    plaintexts = [e.value.reveal().encode() for e in loaded.var_group_entries]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        path = conn.execute("SELECT pg_relation_filepath('var_group_entries')").fetchone()[0]  # type: ignore[index]
        raw = conn.execute("SELECT pg_read_binary_file(%s)", (path,)).fetchone()[0]  # type: ignore[index]
        rows_text = conn.execute("SELECT string_agg(t::text, '|') FROM var_group_entries t").fetchone()[0]  # type: ignore[index]
        key_ids = {r[0] for r in conn.execute("SELECT DISTINCT key_id FROM var_group_entries")}
    assert len(raw) > 0
    assert b"LOG_LEVEL" in raw, "the table file holds the rows (keys are not secret)"
    for secret in plaintexts:
        assert secret not in raw
        assert secret.decode() not in rows_text
    assert key_ids == {store._cipher.key_id}


def test_wrong_key_fails_clearly_and_never_returns_garbage(database_url: str, loaded: ClusterRows) -> None:
    other = VarCipher.from_base64(base64.b64encode(b"x" * 32).decode())
    pool = open_pool(database_url, max_size=1)
    try:
        with pytest.raises(EncryptionKeyError) as caught:
            PostgresStore(pool, other).cluster_rows(loaded.cluster.cluster_id)
        same_id = VarCipher.from_base64(
            base64.b64encode(b"x" * 32).decode(),
            key_id=VarCipher.from_base64(base64.b64encode(b"k" * 32).decode()).key_id,
        )
        with pytest.raises(EncryptionKeyError, match="does not decrypt"):
            PostgresStore(pool, same_id).cluster_rows(loaded.cluster.cluster_id)
    finally:
        pool.close()
    message = str(caught.value)
    assert "key id" in message
    for entry in loaded.var_group_entries:
        assert entry.value.reveal() not in message


def test_a_ciphertext_moved_to_another_key_does_not_decrypt(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    group = next(
        g
        for g in loaded.var_groups
        if sum(e.var_group_id == g.var_group_id for e in loaded.var_group_entries) >= 2
    )
    keys = sorted(e.key for e in loaded.var_group_entries if e.var_group_id == group.var_group_id)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE var_group_entries t SET ciphertext = s.ciphertext, nonce = s.nonce"
            " FROM var_group_entries s WHERE t.var_group_id = %s AND t.key = %s"
            " AND s.var_group_id = t.var_group_id AND s.key = %s",
            (group.var_group_id, keys[0], keys[1]),
        )
    with pytest.raises(EncryptionKeyError, match=keys[0]):
        store.cluster_rows(loaded.cluster.cluster_id)
    store.set_var_entries(group.var_group_id, {keys[0]: SecretValue("restored")}, actor=ACTOR)
    store.cluster_rows(loaded.cluster.cluster_id)


def test_missing_or_malformed_key_is_a_clear_error() -> None:
    with pytest.raises(EncryptionKeyError, match="not set"):
        VarCipher.from_base64(None)
    with pytest.raises(EncryptionKeyError, match="base64"):
        VarCipher.from_base64("not base64!!")
    with pytest.raises(EncryptionKeyError, match="32 bytes"):
        VarCipher.from_base64(base64.b64encode(b"short").decode())


def test_checksum_keys_are_stable_per_cluster_and_distinct(cipher: VarCipher) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert cipher.checksum_key(a) == cipher.checksum_key(a)
    assert cipher.checksum_key(a) != cipher.checksum_key(b)
    assert len(cipher.checksum_key(a)) == 32
    assert "k" * 8 not in repr(cipher)


def test_events_are_append_only_and_idempotent(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    from datetime import UTC, datetime

    cid = loaded.cluster.cluster_id
    event = EventRecord(
        event_id=f"e-{uuid.uuid4()}",
        type="Applied",
        occurred_at=datetime.now(UTC),
        service_id=loaded.services[0].service_id,
    )
    assert store.append_events(cid, [event, event]) == 1
    assert store.append_events(cid, [event]) == 0
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE events SET type = 'x'")
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM audit_log")
    assert store.service_events(loaded.services[0].service_id).events[0].event_id == event.event_id


def test_events_naming_another_clusters_service_are_refused(
    store: PostgresStore, loaded: ClusterRows
) -> None:
    from datetime import UTC, datetime

    other = load_rows_via_api(store, fresh_ids(example_rows()))
    event = EventRecord(
        event_id="x", type="Applied", occurred_at=datetime.now(UTC), service_id=other.services[0].service_id
    )
    with pytest.raises(ValidationError, match="another cluster"):
        store.append_events(loaded.cluster.cluster_id, [event])


def test_unknown_ids_are_not_found(store: PostgresStore) -> None:
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


def test_service_round_trip_keeps_structured_columns(store: PostgresStore, loaded: ClusterRows) -> None:
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


def test_deletes_cascade_and_bump(store: PostgresStore, loaded: ClusterRows) -> None:
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


def test_service_row_defaults_round_trip(store: PostgresStore, loaded: ClusterRows) -> None:
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


def test_people_and_workspaces_round_trip(store: PostgresStore) -> None:
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


def test_audit_log_never_holds_var_values(
    store: PostgresStore, database_url: str, loaded: ClusterRows
) -> None:
    group = loaded.var_groups[0]
    store.set_var_entries(group.var_group_id, {"NEW_KEY": SecretValue("audit-secret-42")}, actor=ACTOR)
    with psycopg.connect(database_url) as conn:
        text = conn.execute("SELECT string_agg(a::text, '|') FROM audit_log a").fetchone()[0]  # type: ignore[index]
    assert "NEW_KEY" in text
    assert "audit-secret-42" not in text
    for entry in loaded.var_group_entries:
        if len(entry.value.reveal()) > 6:  # short values ("info") may occur in other columns
            assert entry.value.reveal() not in text
