"""The dashboard over HTTP: the session cookie and sign-in, CSRF and Origin checks, the API
bridge's allow-list, roles, escaping and secrets (a real Starbase over real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from tests.dashboard.tenant import SECRET_VALUE, csrf_of, post_events, signed_in
from tests.starbase.world import IMAGE, IMAGE_2, World, build_world, ok

from starform_testkit.starbase import RunningStarbase


@pytest.fixture(scope="module")
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    """A tenant whose staging web service has two releases and a var group with a secret."""
    w = build_world(starbase, client)
    auth = w.h(w.owner)
    group = ok(
        client.post(
            f"/v1/projects/{w.project_id}/var-groups",
            headers=auth,
            json={"name": "secrets", "entries": {"API_KEY": SECRET_VALUE}},
        ),
        201,
    )
    ok(
        client.put(
            f"/v1/services/{w.web_id}/var-groups/{group['id']}", headers=auth, json={"attach_order": 0}
        )
    )
    for image in (IMAGE, IMAGE_2):
        ok(client.post(f"/v1/services/{w.web_id}/deployments", headers=auth, json={"image": image}), 201)
    viewer_email = f"viewer-{uuid.uuid4().hex[:6]}@example.com"
    w.extra["viewer"] = starbase.user_token(viewer_email)
    w.extra["outsider"] = starbase.user_token(f"outsider-{uuid.uuid4().hex[:6]}@example.com")
    ok(
        client.put(
            f"/v1/workspaces/{w.workspace_id}/members",
            headers=auth,
            json={"email": viewer_email, "role": "member"},
        ),
        204,
    )
    ok(
        client.put(
            f"/v1/projects/{w.project_id}/members",
            headers=auth,
            json={"email": viewer_email, "role": "viewer"},
        ),
        204,
    )
    return w


@pytest.fixture
def owner(starbase: RunningStarbase, world: World) -> Iterator[httpx.Client]:
    with signed_in(starbase.base_url, world.owner) as session:
        yield session


def test_signing_in_keeps_the_token_in_an_httponly_strict_cookie_for_the_dashboard_only(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    response = client.post(
        "/ui/login",
        data={"token": world.owner, "next": f"/ui/projects/{world.project_id}"},
        headers={"Origin": starbase.base_url},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/projects/{world.project_id}"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"starform_session={world.owner};")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/ui", "samesite=strict", "max-age=28800"} <= attributes
    assert "secure" not in attributes, "plain http on loopback"
    behind_tls = client.post(
        "/ui/login",
        data={"token": world.owner},
        headers={"Origin": "https://" + starbase.base_url.split("://")[1], "X-Forwarded-Proto": "https"},
    )
    assert "secure" in {p.strip().lower() for p in behind_tls.headers["set-cookie"].split(";")}
    client.cookies.clear()


@pytest.mark.parametrize(
    ("token", "origin", "status", "message"),
    [
        ("sbu_not-a-real-token", None, 401, "unknown, revoked or expired token"),
        ("", None, 400, "enter an API token"),
        ("x" * 600, None, 400, "enter an API token"),
        (None, "https://evil.example", 403, "did not come from this dashboard"),
    ],
)
def test_a_bad_sign_in_is_refused_with_the_reason_and_sets_no_cookie(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    token: str | None,
    origin: str | None,
    status: int,
    message: str,
) -> None:
    headers = {"Origin": origin or starbase.base_url}
    response = client.post(
        "/ui/login", data={"token": world.owner if token is None else token}, headers=headers
    )
    assert response.status_code == status
    assert message in response.text
    assert "set-cookie" not in response.headers
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_redirect_after_sign_in_stays_on_the_dashboard(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    for target in ("//evil.example/ui", "https://evil.example/", "/v1/tokens", "/ui/../v1"):
        response = client.post(
            "/ui/login", data={"token": world.owner, "next": target}, headers={"Origin": starbase.base_url}
        )
        assert response.headers["location"] == "/ui/", target
    client.cookies.clear()


def test_pages_need_a_session_and_a_revoked_token_ends_it(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    page = f"/ui/services/{world.web_id}"
    anonymous = client.get(page)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, f"/ui/login?next={page}")
    created = ok(client.post("/v1/tokens", headers=world.h(world.owner), json={"name": "browser"}), 201)
    with signed_in(starbase.base_url, created["secret"]) as session:
        assert session.get(page).status_code == 200
        ok(client.delete(f"/v1/tokens/{created['token']['id']}", headers=world.h(world.owner)), 204)
        after = session.get(page)
        assert (after.status_code, after.headers["location"]) == (303, f"/ui/login?next={page}")
        bridged = session.get(f"/ui/api/v1/services/{world.web_id}/status")
        assert (bridged.status_code, bridged.json()) == (401, {"detail": "unknown, revoked or expired token"})


def _refused(starbase: RunningStarbase, reason: str) -> float:
    counter = starbase.starbase.metrics.dashboard_refused.labels(reason=reason)
    return float(counter._value.get())


def test_the_bridge_passes_only_the_dashboards_calls_and_changes_need_the_csrf_token(
    starbase: RunningStarbase, owner: httpx.Client, world: World
) -> None:
    csrf = csrf_of(owner.get(f"/ui/services/{world.web_id}").text)
    before = {reason: _refused(starbase, reason) for reason in ("csrf", "origin", "not_allowed")}
    for method, path in (
        ("GET", "/v1/tokens"),
        ("GET", f"/v1/projects/{world.project_id}/var-groups"),
        ("DELETE", f"/v1/services/{world.web_id}"),
        ("PATCH", f"/v1/services/{world.web_id}"),
        ("POST", f"/v1/services/{world.web_id}/deployments"),
    ):
        refused = owner.request(method, f"/ui/api{path}", headers={"X-CSRF-Token": csrf}, json={})
        assert (refused.status_code, refused.json()) == (
            404,
            {"detail": "not an API call the dashboard makes"},
        )
    rollback = f"/ui/api/v1/services/{world.web_id}/rollback"
    assert owner.post(rollback, json={"version": 1}).status_code == 403
    wrong = owner.post(rollback, json={"version": 1}, headers={"X-CSRF-Token": "0" * 64})
    assert (wrong.status_code, wrong.json()["detail"]) == (
        403,
        "missing or wrong CSRF token: reload the page",
    )
    foreign = owner.post(
        rollback, json={"version": 1}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert (
        ok(owner.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner)))[0]["version"]
        == 2
    )
    missing = owner.post(rollback, json={"version": 99}, headers={"X-CSRF-Token": csrf})
    assert missing.status_code == 404, "the API's own answer"
    assert _refused(starbase, "csrf") - before["csrf"] == 2
    assert _refused(starbase, "origin") - before["origin"] == 1
    assert _refused(starbase, "not_allowed") - before["not_allowed"] == 5
    done = owner.post(
        rollback, json={"version": 1}, headers={"X-CSRF-Token": csrf, "Origin": starbase.base_url}
    )
    assert done.status_code == 201
    assert (done.json()["version"], done.json()["image"]) == (3, IMAGE)


def test_roles_are_the_apis_a_viewer_reads_but_cannot_roll_back_and_an_outsider_sees_nothing(
    starbase: RunningStarbase, world: World
) -> None:
    page = f"/ui/services/{world.web_id}"
    with signed_in(starbase.base_url, world.extra["viewer"]) as viewer:
        seen = viewer.get(page)
        assert seen.status_code == 200
        assert 'data-action="rollback"' not in seen.text and 'id="reconcile-now"' not in seen.text
        assert 'data-can-deploy=""' in seen.text, "the page's script offers no Approve/Reject either"
        refused = viewer.post(
            f"/ui/api/v1/services/{world.web_id}/rollback",
            json={"version": 1},
            headers={"X-CSRF-Token": csrf_of(seen.text)},
        )
        assert (refused.status_code, refused.json()) == (403, {"detail": "your role does not allow deploy"})
    with signed_in(starbase.base_url, world.owner) as owner:
        owned = owner.get(page).text
        assert 'data-action="rollback"' in owned and 'data-can-deploy="yes"' in owned
    with signed_in(starbase.base_url, world.extra["outsider"]) as outsider:
        hidden = outsider.get(page)
        assert hidden.status_code == 404
        assert "service not found" in hidden.text
        assert outsider.get(f"/ui/projects/{world.project_id}").status_code == 404
        assert outsider.get(f"/ui/api/v1/services/{world.web_id}/events").status_code == 404


def test_everything_shown_is_escaped_and_no_var_value_is_ever_rendered(
    client: httpx.Client, owner: httpx.Client, world: World
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    post_events(client, world, {"type": "DriftReverted", "message": hostile, "reason": hostile})
    for path in (f"/ui/services/{world.web_id}", f"/ui/services/{world.web_id}/panels", "/ui/"):
        page = owner.get(path)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert SECRET_VALUE not in page.text
    service_page = owner.get(f"/ui/services/{world.web_id}")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in service_page.text
    assert "API_KEY" in service_page.text, "keys are shown, values never"
    headers = service_page.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["cache-control"]) == ("DENY", "no-store")


def test_signing_out_needs_the_csrf_token_and_clears_the_cookie(
    starbase: RunningStarbase, world: World
) -> None:
    with signed_in(starbase.base_url, world.owner) as session:
        csrf = csrf_of(session.get("/ui/").text)
        assert session.post("/ui/logout", data={"csrf": "nope"}).status_code == 403
        out = session.post("/ui/logout", data={"csrf": csrf})
        assert (out.status_code, out.headers["location"]) == (303, "/ui/login")
        assert 'starform_session=""' in out.headers["set-cookie"]
        assert session.get("/ui/").status_code == 303


def test_an_unknown_or_malformed_service_is_a_page_not_a_traceback(owner: httpx.Client) -> None:
    missing = owner.get(f"/ui/services/{uuid.uuid4()}")
    assert missing.status_code == 404 and "<h1>404</h1>" in missing.text
    malformed = owner.get("/ui/services/not-a-uuid")
    assert malformed.status_code == 422
