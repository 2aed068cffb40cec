"""``POST /v1/webhooks/github`` on a real Starbase: signatures, replays, debouncing, refusals,
malformed and oversized deliveries. Nothing a refused delivery carries is queued."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import httpx
import pytest
from tests.pushdeploy.pipeline import utc_now
from tests.pushdeploy.rig import GitHub, RecordingJobs, connect, set_source
from tests.starbase.world import World, ok

from starform_apps.starbase import bounds
from starform_testkit.starbase import RunningStarbase


@pytest.fixture
def github(starbase: RunningStarbase, client: httpx.Client, world: World) -> GitHub:
    """An active installation whose repository ``acme/web@main`` builds the staging web service."""
    installation = connect(starbase, client, world)
    set_source(starbase, client, world, installation, world.web_id)
    return installation


def _builds(starbase: RunningStarbase, client: httpx.Client, world: World, service_id: str) -> list[dict]:  # type: ignore[type-arg]
    return ok(client.get(f"/v1/services/{service_id}/builds", headers=starbase.auth(world.owner)))  # type: ignore[no-any-return]


def test_a_signed_push_queues_one_build_of_its_commit_and_hands_it_to_the_queue(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub, jobs: RecordingJobs
) -> None:
    commit = secrets.token_hex(20)
    answer = ok(github.push("acme/web", "main", commit), 202)
    assert answer["outcome"] == "queued" and len(answer["builds"]) == 1
    (build,) = _builds(starbase, client, world, world.web_id)
    assert (build["id"], build["state"], build["commit_sha"], build["trigger"]) == (
        answer["builds"][0],
        "queued",
        commit,
        "push",
    )
    assert build["message"] == "change"
    assert answer["builds"][0] in [call[0] for call in jobs.calls]


def test_a_bad_signature_is_401_and_queues_nothing(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    wrong = github.push("acme/web", "main", secret="not-the-secret")
    assert wrong.status_code == 401 and "does not match" in wrong.json()["detail"]
    malformed = github.push("acme/web", "main", signature="sha1=abcdef")
    assert malformed.status_code == 401 and "sha256=" in malformed.json()["detail"]
    assert github.secret not in wrong.text + malformed.text
    assert _builds(starbase, client, world, world.web_id) == []


def test_a_signature_over_another_body_is_refused(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    payload = github.push_payload("acme/web", "main", secrets.token_hex(20))
    from starform_core.gitpush import sign_body
    from starform_core.secrets_values import SecretValue

    signature = sign_body(SecretValue(github.secret), json.dumps(payload).encode())
    tampered = dict(payload, after=secrets.token_hex(20))
    assert github.deliver("push", tampered, signature=signature).status_code == 401
    assert _builds(starbase, client, world, world.web_id) == []


def test_a_replayed_delivery_builds_nothing_more(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    first = ok(
        github.push("acme/web", "main", delivery="11111111-aaaa-bbbb-cccc-" + secrets.token_hex(6)), 202
    )
    delivery = first["delivery_id"]
    replay = ok(github.push("acme/web", "main", delivery=delivery), 202)
    assert replay["outcome"] == "duplicate" and replay["builds"] == []
    assert [b["id"] for b in _builds(starbase, client, world, world.web_id)] == first["builds"]


def test_ten_pushes_inside_the_debounce_window_make_one_build_of_the_last_commit(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    commits = [secrets.token_hex(20) for _ in range(10)]
    answers = [ok(github.push("acme/web", "main", commit), 202) for commit in commits]
    assert {a["builds"][0] for a in answers} == {answers[0]["builds"][0]}
    assert all(a["cancelled"] == [] for a in answers)
    (build,) = _builds(starbase, client, world, world.web_id)
    assert (build["state"], build["commit_sha"]) == ("queued", commits[-1])


def test_a_push_to_another_branch_or_a_tag_or_a_deletion_builds_nothing(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    assert ok(github.push("acme/web", "develop"), 202)["outcome"] == "ignored"
    tag = dict(github.push_payload("acme/web", "main", secrets.token_hex(20)), ref="refs/tags/v1")
    assert ok(github.deliver("push", tag), 202)["outcome"] == "ignored"
    deletion = dict(github.push_payload("acme/web", "main", "0" * 40), deleted=True)
    assert ok(github.deliver("push", deletion), 202)["outcome"] == "ignored"
    assert _builds(starbase, client, world, world.web_id) == []


def test_auto_deploy_off_leaves_the_service_out(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    set_source(starbase, client, world, github, world.web_id, auto_deploy=False)
    assert ok(github.push("acme/web", "main"), 202)["outcome"] == "ignored"
    assert _builds(starbase, client, world, world.web_id) == []


def test_one_push_builds_every_service_mapped_to_its_branch(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    set_source(starbase, client, world, github, world.prod_web_id, branch="main")
    answer = ok(github.push("acme/web", "main"), 202)
    assert len(answer["builds"]) == 2
    assert len(_builds(starbase, client, world, world.prod_web_id)) == 1


def test_an_unknown_installation_is_404_and_records_no_delivery(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    delivery = "22222222-aaaa-bbbb-cccc-" + secrets.token_hex(6)
    unknown = github.push("acme/web", "main", installation_id=github.installation_id + 1, delivery=delivery)
    assert unknown.status_code == 404 and "unknown installation" in unknown.json()["detail"]
    assert ok(github.push("acme/web", "main", delivery=delivery), 202)["outcome"] == "queued"


def test_a_suspended_installation_refuses_pushes_until_unsuspended(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    ok(github.deliver("installation", github.installation_payload("suspend")), 202)
    refused = github.push("acme/web", "main")
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    assert _builds(starbase, client, world, world.web_id) == []
    ok(github.deliver("installation", github.installation_payload("unsuspend")), 202)
    assert ok(github.push("acme/web", "main"), 202)["outcome"] == "queued"


def test_a_registered_installation_waits_for_githubs_created_event(
    starbase: RunningStarbase, client: httpx.Client, world: World
) -> None:
    pending = connect(starbase, client, world, activate=False)
    set_source(starbase, client, world, pending, world.web_id)
    assert pending.push("acme/web", "main").status_code == 403
    ok(pending.deliver("installation", pending.installation_payload("created")), 202)
    assert ok(pending.push("acme/web", "main"), 202)["outcome"] == "queued"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("after"), "after"),
        (lambda p: p.update(after="not-a-sha"), "after"),
        (lambda p: p.update(ref="main"), "ref"),
        (lambda p: p.update(repository={"full_name": "../etc"}), "repository.full_name"),
        (lambda p: p.update(installation={"id": "7"}), "installation.id"),
        (lambda p: p.update(deleted="yes"), "deleted"),
    ],
)
def test_a_malformed_push_is_422_naming_the_field(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    mutate: object,
    field: str,
) -> None:
    payload = github.push_payload("acme/web", "main", secrets.token_hex(20))
    mutate(payload)  # type: ignore[operator]
    answer = github.deliver("push", payload)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == field
    assert _builds(starbase, client, world, world.web_id) == []


def test_bodies_that_are_not_json_objects_are_refused(github: GitHub) -> None:
    assert github.deliver("push", b"{not json").status_code == 400
    assert github.deliver("push", b'{"a": 1, "a": 2}').status_code == 400
    assert github.deliver("push", b"[1, 2]").status_code == 422


def test_the_payload_must_be_for_the_installation_of_the_url(
    starbase: RunningStarbase, client: httpx.Client, world: World, github: GitHub
) -> None:
    payload = github.push_payload("acme/web", "main", secrets.token_hex(20))
    payload["installation"] = {"id": github.installation_id + 7}
    answer = github.deliver("push", payload)
    assert answer.status_code == 422 and answer.json()["detail"][0]["field"] == "installation.id"


def test_missing_headers_are_refused(github: GitHub) -> None:
    body = json.dumps(github.push_payload("acme/web", "main", secrets.token_hex(20))).encode()
    url = f"/v1/webhooks/github?installation_id={github.installation_id}"
    no_event = github.client.post(url, content=body, headers={"X-GitHub-Delivery": "abc"})
    assert no_event.status_code == 422
    no_delivery = github.client.post(url, content=body, headers={"X-GitHub-Event": "push"})
    assert no_delivery.status_code == 422
    no_signature = github.client.post(
        url, content=body, headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "abc"}
    )
    assert no_signature.status_code == 401


def test_an_oversized_delivery_is_413_before_anything_else(github: GitHub) -> None:
    body = b'{"pad": "' + b"x" * (bounds.MAX_GIT_WEBHOOK_BYTES + 1) + b'"}'
    answer = github.deliver("push", body)
    assert answer.status_code == 413


def test_a_ping_and_other_events_are_recorded_once(github: GitHub) -> None:
    assert (
        ok(
            github.deliver(
                "ping", {"zen": "Keep it logically awesome."}, delivery="ping-1-" + secrets.token_hex(4)
            ),
            202,
        )["outcome"]
        == "recorded"
    )
    delivery = "issues-" + secrets.token_hex(4)
    assert ok(github.deliver("issues", {"action": "opened"}, delivery=delivery), 202)["outcome"] == "ignored"
    assert (
        ok(github.deliver("issues", {"action": "opened"}, delivery=delivery), 202)["outcome"] == "duplicate"
    )


def test_purged_deliveries_are_forgotten_and_recent_ones_kept(
    starbase: RunningStarbase, github: GitHub
) -> None:
    store = starbase.starbase.store
    delivery = "purge-" + secrets.token_hex(4)
    ok(github.push("acme/web", "develop", delivery=delivery), 202)
    assert store.purge_deliveries(before=utc_now() - dt.timedelta(days=30)) == 0
    assert ok(github.push("acme/web", "develop", delivery=delivery), 202)["outcome"] == "duplicate"
    assert store.purge_deliveries(before=utc_now() + dt.timedelta(seconds=1)) >= 1
    assert ok(github.push("acme/web", "develop", delivery=delivery), 202)["outcome"] == "ignored"
