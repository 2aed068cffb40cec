"""Only an Owner touches an Owner, and a workspace always keeps one: a role-change matrix over a
real socket, and concurrent demotions against real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import attrs
import httpx
import psycopg
import pytest
from tests.starbase.world import ok

from starform_testkit.starbase import RunningStarbase

ACTORS = ("owner", "admin", "member", "billing")
TARGETS = ("owner", "admin", "member")
CHANGES = ("owner", "admin", "billing", "member", "remove")


@attrs.frozen
class Team:
    """A fresh workspace: a creator (first Owner), one member per role, their tokens and ids."""

    workspace_id: str
    tokens: dict[str, str]
    emails: dict[str, str]
    ids: dict[str, str]


def _team(sb: RunningStarbase, client: httpx.Client, *, second_owner: bool = True) -> Team:
    tag = uuid.uuid4().hex[:8]
    roles = ("creator", "owner", "admin", "member", "billing") if second_owner else ("creator",)
    emails = {role: f"{role}-{tag}@example.com" for role in roles}
    tokens = {role: sb.user_token(email) for role, email in emails.items()}
    ids = {role: sb.starbase.store.get_user(email=email).user_id for role, email in emails.items()}
    ws = ok(client.post("/v1/workspaces", headers=sb.auth(tokens["creator"]), json={"name": tag}), 201)
    for role in roles[1:]:
        ok(
            client.put(
                f"/v1/workspaces/{ws['id']}/members",
                headers=sb.auth(tokens["creator"]),
                json={"email": emails[role], "role": role},
            ),
            204,
        )
    return Team(workspace_id=ws["id"], tokens=tokens, emails=emails, ids=ids)


def _expected(actor: str, target: str, change: str) -> int:
    """The rules of §15 as the docs state them, independently of the code."""
    if actor not in ("owner", "admin"):
        return 403
    if (target == "owner" or change == "owner") and actor != "owner":
        return 403
    return 204


def _change(client: httpx.Client, sb: RunningStarbase, team: Team, actor: str, target: str, change: str):  # type: ignore[no-untyped-def]
    headers = sb.auth(team.tokens[actor])
    if change == "remove":
        return client.delete(
            f"/v1/workspaces/{team.workspace_id}/members/{team.ids[target]}", headers=headers
        )
    return client.put(
        f"/v1/workspaces/{team.workspace_id}/members",
        headers=headers,
        json={"email": team.emails[target], "role": change},
    )


def _roles(url: str, workspace_id: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT user_id::text, role FROM workspace_members WHERE workspace_id = %s", (workspace_id,)
        ).fetchall()
    return dict(rows)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("change", CHANGES)
def test_role_change_matrix(
    starbase: RunningStarbase, client: httpx.Client, actor: str, target: str, change: str
) -> None:
    team = _team(starbase, client)
    url = starbase.starbase.database_url
    before = _roles(url, team.workspace_id)
    response = _change(client, starbase, team, actor, target, change)
    expected = _expected(actor, target, change)
    assert response.status_code == expected, response.text
    after = _roles(url, team.workspace_id)
    if expected != 204:
        assert after == before, "a refused change writes nothing"
        assert "Owner" in response.text or "role does not allow" in response.text
    elif change == "remove":
        assert team.ids[target] not in after
    else:
        assert after[team.ids[target]] == change
    assert "owner" in after.values(), "a workspace always keeps an Owner"


def test_the_last_owner_can_neither_leave_nor_step_down(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    team = _team(starbase, client, second_owner=False)
    url = starbase.starbase.database_url
    me = starbase.auth(team.tokens["creator"])
    for role in ("admin", "member", "billing"):
        demote = client.put(
            f"/v1/workspaces/{team.workspace_id}/members",
            headers=me,
            json={"email": team.emails["creator"], "role": role},
        )
        assert demote.status_code == 409, demote.text
        assert "at least one Owner" in demote.text
    leave = client.delete(f"/v1/workspaces/{team.workspace_id}/members/{team.ids['creator']}", headers=me)
    assert leave.status_code == 409
    assert _roles(url, team.workspace_id) == {team.ids["creator"]: "owner"}
    again = client.put(
        f"/v1/workspaces/{team.workspace_id}/members",
        headers=me,
        json={"email": team.emails["creator"], "role": "owner"},
    )
    assert again.status_code == 204, "re-stating the Owner's own role is harmless"


def test_an_owner_may_step_down_while_another_owner_remains(
    starbase: RunningStarbase, client: httpx.Client
) -> None:
    team = _team(starbase, client)
    step_down = client.put(
        f"/v1/workspaces/{team.workspace_id}/members",
        headers=starbase.auth(team.tokens["creator"]),
        json={"email": team.emails["creator"], "role": "admin"},
    )
    assert step_down.status_code == 204
    roles = _roles(starbase.starbase.database_url, team.workspace_id)
    assert roles[team.ids["creator"]] == "admin"
    assert roles[team.ids["owner"]] == "owner"


@pytest.mark.parametrize("how", ["demote", "remove"])
def test_two_owners_removing_each_other_at_once_leave_one(
    starbase: RunningStarbase, client: httpx.Client, how: str
) -> None:
    """Twenty rounds of both Owners acting at the same instant: never zero Owners."""
    url = starbase.starbase.database_url
    for _ in range(20):
        team = _team(starbase, client, second_owner=True)
        barrier = threading.Barrier(2)
        answers: dict[str, int] = {}

        def act(
            actor: str,
            target: str,
            team: Team = team,
            barrier: threading.Barrier = barrier,
            answers: dict[str, int] = answers,
        ) -> None:
            with httpx.Client(base_url=starbase.base_url, timeout=30) as own:
                barrier.wait()
                change = "remove" if how == "remove" else "admin"
                answers[actor] = _change(own, starbase, team, actor, target, change).status_code

        threads = [
            threading.Thread(target=act, args=("creator", "owner")),
            threading.Thread(target=act, args=("owner", "creator")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        roles = _roles(url, team.workspace_id)
        owners = [user for user, role in roles.items() if role == "owner"]
        assert len(owners) == 1, (answers, roles)
        assert sorted(answers.values())[0] == 204, answers
        assert sorted(answers.values())[1] in (403, 404, 409), answers
