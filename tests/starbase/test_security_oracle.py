"""No existence oracle: an id of another tenant and an id that exists nowhere answer the same."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from tests.starbase.world import World, build_world, ok

from starform_testkit.starbase import RunningStarbase

Probe = Callable[[httpx.Client, dict[str, str], str], httpx.Response]

# name: (which id of the other tenant to use, the request)
PROBES: dict[str, tuple[str, Probe]] = {
    "get workspace": ("workspace", lambda c, h, i: c.get(f"/v1/workspaces/{i}", headers=h)),
    "list projects": ("workspace", lambda c, h, i: c.get(f"/v1/workspaces/{i}/projects", headers=h)),
    "get project": ("project", lambda c, h, i: c.get(f"/v1/projects/{i}", headers=h)),
    "list services": ("project", lambda c, h, i: c.get(f"/v1/projects/{i}/services", headers=h)),
    "create environment": (
        "project",
        lambda c, h, i: c.post(f"/v1/projects/{i}/environments", headers=h, json={"name": "qa"}),
    ),
    "patch environment": (
        "environment",
        lambda c, h, i: c.patch(f"/v1/environments/{i}", headers=h, json={"protected": True}),
    ),
    "delete environment": ("environment", lambda c, h, i: c.delete(f"/v1/environments/{i}", headers=h)),
    "get service": ("service", lambda c, h, i: c.get(f"/v1/services/{i}", headers=h)),
    "patch service": (
        "service",
        lambda c, h, i: c.patch(f"/v1/services/{i}", headers=h, json={"replicas": 1}),
    ),
    "service status": ("service", lambda c, h, i: c.get(f"/v1/services/{i}/status", headers=h)),
    "service events": ("service", lambda c, h, i: c.get(f"/v1/services/{i}/events", headers=h)),
    "deploy": (
        "service",
        lambda c, h, i: c.post(
            f"/v1/services/{i}/deployments",
            headers=h,
            json={"image": f"registry.example.com/a/b@sha256:{'ab' * 32}"},
        ),
    ),
    "get var group": ("var_group", lambda c, h, i: c.get(f"/v1/var-groups/{i}", headers=h)),
    "set var entries": (
        "var_group",
        lambda c, h, i: c.put(f"/v1/var-groups/{i}/entries", headers=h, json={"entries": {"A": "b"}}),
    ),
    "delete var group": ("var_group", lambda c, h, i: c.delete(f"/v1/var-groups/{i}", headers=h)),
    "delete volume": ("volume", lambda c, h, i: c.delete(f"/v1/volumes/{i}", headers=h)),
    "get token": ("token", lambda c, h, i: c.get(f"/v1/tokens/{i}", headers=h)),
    "revoke token": ("token", lambda c, h, i: c.delete(f"/v1/tokens/{i}", headers=h)),
}


@pytest.fixture(scope="module")
def worlds(starbase: RunningStarbase, client: httpx.Client) -> tuple[World, dict[str, str]]:
    """Me (a world of my own) and the ids of another tenant's rows."""
    mine = build_world(starbase, client)
    theirs = build_world(starbase, client)
    volume = ok(
        client.post(
            f"/v1/services/{theirs.web_id}/volumes",
            headers=theirs.h(theirs.owner),
            json={"name": "data", "mount_path": "/data", "size": "1Gi"},
        ),
        201,
    )
    token = ok(client.post("/v1/tokens", headers=theirs.h(theirs.owner), json={"name": "ci"}), 201)
    ids = {
        "workspace": theirs.workspace_id,
        "project": theirs.project_id,
        "environment": theirs.staging_id,
        "service": theirs.web_id,
        "var_group": theirs.var_group_id,
        "volume": volume["id"],
        "token": token["token"]["id"],
    }
    return mine, ids


@pytest.mark.parametrize("name", sorted(PROBES))
def test_not_found_and_not_yours_are_indistinguishable(
    client: httpx.Client, worlds: tuple[World, dict[str, str]], name: str
) -> None:
    mine, ids = worlds
    kind, probe = PROBES[name]
    headers = mine.h(mine.owner)
    foreign = probe(client, headers, ids[kind])
    unknown = probe(client, headers, str(uuid.uuid4()))
    assert foreign.status_code == unknown.status_code == 404, (foreign.text, unknown.text)
    assert foreign.json() == unknown.json()
    assert ids[kind] not in foreign.text


def test_a_workspace_member_without_the_project_sees_not_found(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    """A Member with no project role gets the same 404 for the project's rows as for no row."""
    world = build_world(starbase, client)
    email = f"m-{uuid.uuid4().hex[:6]}@example.com"
    member = starbase.user_token(email)
    ok(
        client.put(
            f"/v1/workspaces/{world.workspace_id}/members",
            headers=world.h(world.owner),
            json={"email": email, "role": "member"},
        ),
        204,
    )
    for path in (f"/v1/services/{world.web_id}", f"/v1/var-groups/{world.var_group_id}"):
        seen = client.get(path, headers=world.h(member))
        nothing = client.get(path.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", headers=world.h(member))
        assert seen.status_code == nothing.status_code == 404
        assert seen.json() == nothing.json()
