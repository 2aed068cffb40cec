"""API tokens (§39.2 #2): the token port's contract on every store, and the API over a real socket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.store_kit import StoreUnderTest
from tests.starbase.world import IMAGE, World, build_world, ok

from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.tokens import hash_token
from starform_core.access import Actor, ProjectRole, UserRecord
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.model.enums import Tier
from starform_core.payload.rows import ClusterRow, ProjectRow, WorkspaceRow
from starform_core.ports.tokens import ApiTokenStore, NewApiToken, TokenScope
from starform_testkit.starbase import RunningStarbase

ACTOR = Actor(label="test")


@pytest.fixture
def stores(any_store: StoreUnderTest) -> tuple[StoreUnderTest, ApiTokenStore]:
    return any_store, any_store


def _user(store: StoreUnderTest) -> UserRecord:
    return store.create_user(UserRecord(user_id=str(uuid.uuid4()), email=f"{uuid.uuid4().hex[:8]}@x.io"))


def _project(store: StoreUnderTest, owner: UserRecord) -> str:
    cluster = store.register_cluster(
        ClusterRow(
            cluster_id=str(uuid.uuid4()),
            name=f"c{uuid.uuid4().hex[:8]}",
            region="fra1",
            generation=1,
            gateway_namespace="gw",
            gateway_name="gw",
            storage_class="standard",
        ),
        agent_token_hash=hash_token(uuid.uuid4().hex),
        actor=ACTOR,
    )
    ws = store.create_workspace(
        WorkspaceRow(workspace_id=str(uuid.uuid4()), name="w"), owner=Actor("o", owner.user_id)
    )
    project = store.create_project(
        ProjectRow(
            project_id=str(uuid.uuid4()),
            workspace_id=ws.workspace_id,
            cluster_id=cluster.cluster_id,
            name="p",
            tier=Tier.PRO,
        ),
        actor=ACTOR,
    )
    return project.project_id


def _new(user: UserRecord, secret: str, **extra: object) -> NewApiToken:
    return NewApiToken(
        token_id=str(uuid.uuid4()), user_id=user.user_id, token_hash=hash_token(secret), **extra
    )  # type: ignore[arg-type]


def test_token_contract(stores: tuple[StoreUnderTest, ApiTokenStore]) -> None:
    store, tokens = stores
    alice, bob = _user(store), _user(store)
    project_id = _project(store, alice)
    scope = TokenScope(project_id=project_id, role=ProjectRole.DEVELOPER)
    first = tokens.issue_token(_new(alice, "s1", name="laptop"), actor=ACTOR)
    scoped = tokens.issue_token(_new(alice, "s2", name="ci", scope=scope), actor=ACTOR)
    assert tokens.authenticate(hash_token("s1")).user == alice
    principal = tokens.authenticate(hash_token("s2"))
    assert (principal.token_id, principal.scope) == (scoped.token_id, scope)
    assert tokens.get_token(first.token_id, user_id=alice.user_id).last_used_at is not None
    assert {t.token_id for t in tokens.list_tokens(alice.user_id)} == {first.token_id, scoped.token_id}
    assert tokens.list_tokens(bob.user_id) == []
    with pytest.raises(StoreNotFoundError):
        tokens.get_token(first.token_id, user_id=bob.user_id)
    with pytest.raises(StoreNotFoundError):
        tokens.revoke_token(first.token_id, user_id=bob.user_id, actor=ACTOR)
    tokens.revoke_token(first.token_id, user_id=alice.user_id, actor=ACTOR)
    with pytest.raises(StoreNotFoundError):
        tokens.authenticate(hash_token("s1"))
    with pytest.raises(StoreConflictError):
        tokens.revoke_token(first.token_id, user_id=alice.user_id, actor=ACTOR)
    with pytest.raises(StoreNotFoundError):
        tokens.authenticate(hash_token("never issued"))
    with pytest.raises(ValidationError):
        tokens.issue_token(
            _new(alice, "s3", scope=TokenScope(str(uuid.uuid4()), ProjectRole.VIEWER)), actor=ACTOR
        )


def test_rotation_and_expiry_contract(stores: tuple[StoreUnderTest, ApiTokenStore]) -> None:
    store, tokens = stores
    alice = _user(store)
    old = tokens.issue_token(_new(alice, "old", name="deploy-bot"), actor=ACTOR)
    new = tokens.rotate_token(old.token_id, replacement=_new(alice, "new"), actor=ACTOR)
    assert (new.name, new.rotated_from) == ("deploy-bot", old.token_id)
    assert tokens.authenticate(hash_token("new")).token_id == new.token_id
    with pytest.raises(StoreNotFoundError):
        tokens.authenticate(hash_token("old"))
    graceful = tokens.rotate_token(
        new.token_id, replacement=_new(alice, "newer"), grace_seconds=600, actor=ACTOR
    )
    assert tokens.authenticate(hash_token("new")).token_id == new.token_id, "still valid during the grace"
    assert tokens.authenticate(hash_token("newer")).token_id == graceful.token_id
    ending = tokens.get_token(new.token_id, user_id=alice.user_id).expires_at
    assert ending is not None
    assert timedelta(seconds=590) < ending - datetime.now(UTC) <= timedelta(seconds=600)
    with pytest.raises(StoreConflictError):
        tokens.rotate_token(old.token_id, replacement=_new(alice, "again"), actor=ACTOR)
    expired = tokens.issue_token(
        _new(alice, "expired", expires_at=datetime.now(UTC) - timedelta(seconds=1)), actor=ACTOR
    )
    with pytest.raises(StoreNotFoundError):
        tokens.authenticate(hash_token("expired"))
    assert tokens.get_token(expired.token_id, user_id=alice.user_id).revoked_at is None


# -- the API ----------------------------------------------------------------------------------


def _create(client: httpx.Client, token: str, **body: object) -> dict:  # type: ignore[type-arg]
    return ok(client.post("/v1/tokens", headers={"Authorization": f"Bearer {token}"}, json=body), 201)


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    return build_world(starbase, client)


def test_tokens_over_the_api(starbase: RunningStarbase, client: httpx.Client, world: World) -> None:
    configure_logging("info", stream=LOG_BUFFER)
    created = _create(client, world.owner, name="laptop", expires_in_days=30)
    secret, info = created["secret"], created["token"]
    assert secret.startswith("sbu_")
    assert info["state"] == "active"
    expires = datetime.fromisoformat(info["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    mine = {"Authorization": f"Bearer {secret}"}
    assert ok(client.get(f"/v1/projects/{world.project_id}", headers=mine))["id"] == world.project_id
    listed = ok(client.get("/v1/tokens", headers=world.h(world.owner)))
    entry = next(t for t in listed if t["id"] == info["id"])
    assert entry["last_used_at"] is not None
    assert secret not in str(listed)
    ok(client.delete(f"/v1/tokens/{info['id']}", headers=world.h(world.owner)), 204)
    refused = client.get(f"/v1/projects/{world.project_id}", headers=mine)
    assert refused.status_code == 401, "a revoked token stops working at once"
    assert ok(client.get(f"/v1/tokens/{info['id']}", headers=world.h(world.owner)))["state"] == "revoked"
    assert secret not in LOG_BUFFER.getvalue()


def test_secrets_are_stored_only_as_hashes(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    secret = _create(client, world.owner, name="hash-only")["secret"]
    with psycopg.connect(starbase.starbase.database_url) as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchall()
        audit = conn.execute("SELECT coalesce(after::text, '') FROM audit_log").fetchall()
    assert hash_token(secret) in {bytes(r[0]) for r in stored}
    assert all(secret.encode() not in bytes(r[0]) for r in stored)
    assert all(secret not in r[0] for r in audit)


def test_rotation_over_the_api(client: httpx.Client, world: World) -> None:
    first = _create(client, world.owner, name="gha")
    rotated = ok(
        client.post(
            f"/v1/tokens/{first['token']['id']}/rotate",
            headers=world.h(world.owner),
            json={"grace_seconds": 60},
        ),
        201,
    )
    assert rotated["token"]["rotated_from"] == first["token"]["id"]
    assert rotated["token"]["name"] == "gha"
    path = f"/v1/projects/{world.project_id}"
    assert client.get(path, headers={"Authorization": f"Bearer {first['secret']}"}).status_code == 200
    assert client.get(path, headers={"Authorization": f"Bearer {rotated['secret']}"}).status_code == 200
    final = ok(
        client.post(f"/v1/tokens/{rotated['token']['id']}/rotate", headers=world.h(world.owner), json={}),
        201,
    )
    assert client.get(path, headers={"Authorization": f"Bearer {rotated['secret']}"}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {final['secret']}"}).status_code == 200


def test_a_scoped_token_reaches_its_project_only_with_its_role(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    other = ok(
        client.post(
            f"/v1/workspaces/{world.workspace_id}/projects",
            headers=world.h(world.owner),
            json={"name": f"other-{uuid.uuid4().hex[:6]}", "cluster_id": world.cluster_id},
        ),
        201,
    )
    viewer = _create(client, world.owner, name="ci-read", project_id=world.project_id, role="viewer")
    assert viewer["token"]["role"] == "viewer"
    ci = {"Authorization": f"Bearer {viewer['secret']}"}
    assert client.get(f"/v1/projects/{world.project_id}", headers=ci).status_code == 200
    assert client.get(f"/v1/services/{world.web_id}", headers=ci).status_code == 200
    assert client.get(f"/v1/projects/{other['id']}", headers=ci).status_code == 404
    assert client.patch(f"/v1/services/{world.web_id}", headers=ci, json={"replicas": 2}).status_code == 403
    assert client.get(f"/v1/workspaces/{world.workspace_id}", headers=ci).status_code == 403
    assert client.get("/v1/workspaces", headers=ci).status_code == 403
    assert client.post("/v1/tokens", headers=ci, json={"name": "escalate"}).status_code == 403
    deployer = _create(client, world.owner, name="ci-deploy", project_id=world.project_id, role="developer")
    cd = {"Authorization": f"Bearer {deployer['secret']}"}
    deployed = client.post(f"/v1/services/{world.web_id}/deployments", headers=cd, json={"image": IMAGE})
    assert deployed.status_code == 201, deployed.text
    protected = client.post(
        f"/v1/services/{world.prod_web_id}/deployments", headers=cd, json={"image": IMAGE}
    )
    assert protected.status_code == 403, "a developer token cannot deploy into a protected environment"


def test_a_scoped_token_never_holds_more_than_its_user(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    email = f"dev-{uuid.uuid4().hex[:6]}@example.com"
    dev = starbase.user_token(email)
    dev_id = starbase.starbase.store.get_user(email=email).user_id
    owner = world.h(world.owner)
    ok(
        client.put(
            f"/v1/workspaces/{world.workspace_id}/members",
            headers=owner,
            json={"email": email, "role": "member"},
        ),
        204,
    )
    ok(
        client.put(
            f"/v1/projects/{world.project_id}/members",
            headers=owner,
            json={"email": email, "role": "developer"},
        ),
        204,
    )
    too_much = client.post(
        "/v1/tokens",
        headers=world.h(dev),
        json={"name": "x", "project_id": world.project_id, "role": "admin"},
    )
    assert too_much.status_code == 403
    scoped = _create(client, dev, name="ci", project_id=world.project_id, role="developer")
    ci = {"Authorization": f"Bearer {scoped['secret']}"}
    assert client.get(f"/v1/projects/{world.project_id}", headers=ci).status_code == 200
    ok(client.delete(f"/v1/projects/{world.project_id}/members/{dev_id}", headers=owner), 204)
    assert client.get(f"/v1/projects/{world.project_id}", headers=ci).status_code == 404
    unknown = client.post(
        "/v1/tokens",
        headers=world.h(dev),
        json={"name": "x", "project_id": str(uuid.uuid4()), "role": "viewer"},
    )
    assert unknown.status_code == 404
    half = client.post("/v1/tokens", headers=world.h(dev), json={"name": "x", "role": "viewer"})
    assert half.status_code == 422


def test_an_operators_scoped_token_cannot_manage_clusters(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    ok(
        client.put(
            f"/v1/workspaces/{world.workspace_id}/members",
            headers=world.h(world.owner),
            json={
                "email": starbase.starbase.store.authenticate(hash_token(world.operator)).user.email,
                "role": "admin",
            },
        ),
        204,
    )
    scoped = _create(client, world.operator, name="ops-ci", project_id=world.project_id, role="viewer")
    patch = client.patch(
        f"/v1/clusters/{world.cluster_id}",
        headers={"Authorization": f"Bearer {scoped['secret']}"},
        json={"lb_size_unit": 3},
    )
    assert patch.status_code == 403
