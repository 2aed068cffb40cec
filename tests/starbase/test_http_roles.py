"""The authorisation matrix: every role against every kind of endpoint, over a real socket.

The expected table is written out here independently of ``roles.py``: allowed calls succeed,
denied calls get 403 (a role that can see the project) or 404 (one that cannot).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import attrs
import httpx
import pytest
from tests.starbase.world import IMAGE, World, build_world, ok

from starform_apps.starbase.tokens import hash_token
from starform_testkit.starbase import RunningStarbase

ROLES = ("owner", "admin", "billing", "member", "viewer", "developer", "project_admin", "outsider")
READERS = {"owner", "admin", "viewer", "developer", "project_admin"}
WRITERS = {"owner", "admin", "developer", "project_admin"}
ADMINS = {"owner", "admin", "project_admin"}
WS_ADMINS = {"owner", "admin"}
WS_ANY = {"owner", "admin", "billing", "member", "viewer", "developer", "project_admin"}


@attrs.define
class Cast:
    """A world and one token per role."""

    world: World
    tokens: dict[str, str]
    emails: dict[str, str]


@pytest.fixture(scope="module")
def cast(starbase: RunningStarbase, client: httpx.Client) -> Cast:
    w = build_world(starbase, client)
    tag = uuid.uuid4().hex[:6]
    emails = {role: f"{role}-{tag}@example.com" for role in ROLES}
    tokens = {role: starbase.user_token(email) for role, email in emails.items()}
    tokens["owner"] = w.owner
    owner = w.h(w.owner)
    workspace_role = {
        "admin": "admin",
        "billing": "billing",
        "member": "member",
        "viewer": "member",
        "developer": "member",
        "project_admin": "member",
    }
    for role, ws_role in workspace_role.items():
        ok(
            client.put(
                f"/v1/workspaces/{w.workspace_id}/members",
                headers=owner,
                json={"email": emails[role], "role": ws_role},
            ),
            204,
        )
    for role, project_role in (
        ("viewer", "viewer"),
        ("developer", "developer"),
        ("project_admin", "admin"),
        ("billing", "developer"),
    ):
        ok(
            client.put(
                f"/v1/projects/{w.project_id}/members",
                headers=owner,
                json={"email": emails[role], "role": project_role},
            ),
            204,
        )
    return Cast(world=w, tokens=tokens, emails=emails)


Call = Callable[[httpx.Client, Cast, dict[str, str]], httpx.Response]


def _unique() -> str:
    return f"e{uuid.uuid4().hex[:8]}"


CASES: dict[str, tuple[set[str], Call, bool]] = {
    # name: (who may, the call, whether a denied caller that cannot see the project gets 404)
    "read workspace": (
        WS_ANY,
        lambda c, k, h: c.get(f"/v1/workspaces/{k.world.workspace_id}", headers=h),
        False,
    ),
    "set workspace member": (
        WS_ADMINS,
        lambda c, k, h: c.put(
            f"/v1/workspaces/{k.world.workspace_id}/members",
            headers=h,
            json={"email": k.emails["member"], "role": "member"},
        ),
        False,
    ),
    "create project": (
        WS_ADMINS,
        lambda c, k, h: c.post(
            f"/v1/workspaces/{k.world.workspace_id}/projects",
            headers=h,
            json={"name": _unique(), "cluster_id": k.world.cluster_id},
        ),
        False,
    ),
    "read project": (
        READERS,
        lambda c, k, h: c.get(f"/v1/projects/{k.world.project_id}", headers=h),
        True,
    ),
    "read service": (
        READERS,
        lambda c, k, h: c.get(f"/v1/services/{k.world.web_id}", headers=h),
        True,
    ),
    "read service events": (
        READERS,
        lambda c, k, h: c.get(f"/v1/services/{k.world.web_id}/events", headers=h),
        True,
    ),
    "list var groups": (
        READERS,
        lambda c, k, h: c.get(f"/v1/projects/{k.world.project_id}/var-groups", headers=h),
        True,
    ),
    "edit service": (
        WRITERS,
        lambda c, k, h: c.patch(f"/v1/services/{k.world.web_id}", headers=h, json={"replicas": 2}),
        True,
    ),
    "deploy to unprotected environment": (
        WRITERS,
        lambda c, k, h: c.post(
            f"/v1/services/{k.world.web_id}/deployments", headers=h, json={"image": IMAGE}
        ),
        True,
    ),
    "deploy to protected environment": (
        ADMINS,
        lambda c, k, h: c.post(
            f"/v1/services/{k.world.prod_web_id}/deployments", headers=h, json={"image": IMAGE}
        ),
        True,
    ),
    "create environment": (
        ADMINS,
        lambda c, k, h: c.post(
            f"/v1/projects/{k.world.project_id}/environments", headers=h, json={"name": _unique()}
        ),
        True,
    ),
    "create var group": (
        ADMINS,
        lambda c, k, h: c.post(
            f"/v1/projects/{k.world.project_id}/var-groups", headers=h, json={"name": _unique()}
        ),
        True,
    ),
    "set project member": (
        ADMINS,
        lambda c, k, h: c.put(
            f"/v1/projects/{k.world.project_id}/members",
            headers=h,
            json={"email": k.emails["viewer"], "role": "viewer"},
        ),
        True,
    ),
    "register cluster": (
        set(),
        lambda c, k, h: c.post(
            "/v1/clusters",
            headers=h,
            json={
                "name": f"x{uuid.uuid4().hex[:8]}",
                "region": "fra1",
                "gateway_namespace": "gw",
                "gateway_name": "gw",
            },
        ),
        False,
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_role_matrix(client: httpx.Client, cast: Cast, role: str, case: str) -> None:
    who, call, hides_project = CASES[case]
    response = call(client, cast, cast.world.h(cast.tokens[role]))
    if role in who:
        assert response.status_code in (200, 201, 204), response.text
        return
    can_see = role != "outsider" and (not hides_project or role in READERS)
    if case == "register cluster" and role != "outsider":
        can_see = True
    expected = 403 if case == "register cluster" else 403 if can_see else 404
    assert response.status_code == expected, response.text


def test_no_token_and_bad_token_are_401(client: httpx.Client, cast: Cast) -> None:
    path = f"/v1/projects/{cast.world.project_id}"
    assert client.get(path).status_code == 401
    bad = client.get(path, headers={"Authorization": "Bearer sbu_not-a-token"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"


def test_only_an_owner_grants_owner(client: httpx.Client, cast: Cast) -> None:
    w = cast.world
    denied = client.put(
        f"/v1/workspaces/{w.workspace_id}/members",
        headers=w.h(cast.tokens["admin"]),
        json={"email": cast.emails["member"], "role": "owner"},
    )
    assert denied.status_code == 403


def test_removing_members(starbase: RunningStarbase, client: httpx.Client) -> None:
    w = build_world(starbase, client)
    owner = w.h(w.owner)
    email = f"gone-{uuid.uuid4().hex[:6]}@example.com"
    token = starbase.user_token(email)
    user_id = starbase.starbase.store.get_user(email=email).user_id
    ok(
        client.put(
            f"/v1/workspaces/{w.workspace_id}/members", headers=owner, json={"email": email, "role": "member"}
        ),
        204,
    )
    ok(
        client.put(
            f"/v1/projects/{w.project_id}/members", headers=owner, json={"email": email, "role": "developer"}
        ),
        204,
    )
    assert client.get(f"/v1/projects/{w.project_id}", headers=w.h(token)).status_code == 200
    ok(client.delete(f"/v1/projects/{w.project_id}/members/{user_id}", headers=owner), 204)
    assert client.get(f"/v1/projects/{w.project_id}", headers=w.h(token)).status_code == 404
    assert client.get(f"/v1/workspaces/{w.workspace_id}", headers=w.h(token)).status_code == 200
    ok(client.delete(f"/v1/workspaces/{w.workspace_id}/members/{user_id}", headers=owner), 204)
    assert client.get(f"/v1/workspaces/{w.workspace_id}", headers=w.h(token)).status_code == 404
    assert (
        client.delete(f"/v1/workspaces/{w.workspace_id}/members/{user_id}", headers=owner).status_code == 404
    )
    owner_id = starbase.starbase.store.authenticate(hash_token(w.owner)).user.user_id
    last = client.delete(f"/v1/workspaces/{w.workspace_id}/members/{owner_id}", headers=owner)
    assert last.status_code == 409
    assert "Owner" in last.text
