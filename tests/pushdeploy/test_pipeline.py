"""End to end on real PostgreSQL and the real registry: a signed push → a build (the build
double) → an image in the registry → a deployment pinned to the digest the registry resolves,
in the transaction that bumps the generation → the agent reports it applied → live. Failing and
cancelled builds deploy nothing; builder time is billed."""

from __future__ import annotations

import datetime as dt
import json
import secrets

import httpx
import pytest
from tests.pushdeploy.pipeline import FAST, BuildServices, Minutes, runner, shifted, wait_for
from tests.pushdeploy.rig import GitHub, connect, set_source
from tests.registry.kit.backends import Backend
from tests.starbase.world import World, ok

from starform_adapters.build import BuildScript, Outcome
from starform_core.errors import BuildUnavailableError
from starform_core.gitpush import DEBOUNCE
from starform_testkit.starbase import RunningStarbase

PAST_DEBOUNCE = shifted(DEBOUNCE + dt.timedelta(seconds=1))


@pytest.fixture
def github(starbase: RunningStarbase, client: httpx.Client, world: World) -> GitHub:
    """``acme/web@main`` builds the staging web service, with overrides."""
    installation = connect(starbase, client, world)
    set_source(starbase, client, world, installation, world.web_id, start_command="python -m app")
    return installation


def _generation(client: httpx.Client, world: World) -> int:
    pulled = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.agent_token))
    assert pulled.status_code == 200
    return int(json.loads(pulled.content)["generation"])


def _build(sb: RunningStarbase, client: httpx.Client, world: World, build_id: str) -> dict:  # type: ignore[type-arg]
    return ok(client.get(f"/v1/builds/{build_id}", headers=sb.auth(world.owner)))


def test_a_push_is_built_pushed_resolved_and_deployed_then_goes_live(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    before = _generation(client, world)
    commit = secrets.token_hex(20)
    (build_id,) = ok(github.push("acme/web", "main", commit), 202)["builds"]
    minutes = Minutes()
    service = build_service()
    worker = runner(starbase, distribution_open, service, clock=PAST_DEBOUNCE, minutes=minutes)
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("deployed", "deploying")
    build = _build(starbase, client, world, build_id)
    reader, _ = distribution_open.client()
    from starform_core.registry import parse_image_reference

    resolved = reader.resolve(parse_image_reference(build["image"]))
    assert build["digest"] == str(resolved.digest)
    config = reader.image_config(parse_image_reference(build["image"]))
    assert config.command == ("/bin/sh", "-c", "python -m app")
    (deployment,) = ok(client.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner)))
    assert deployment["id"] == build["deployment_id"]
    assert deployment["image"] == f"{build['image']}@{build['digest']}"
    assert build["generation"] == _generation(client, world) > before
    pulled = client.get(f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.agent_token))
    assert build["digest"] in pulled.text
    assert minutes.recorded and minutes.recorded[0][0] == build_id and minutes.recorded[0][1] > 0
    assert build["build_seconds"] == pytest.approx(minutes.recorded[0][1])
    report = {"applied_generation": build["generation"], "agent": "shuttle/test", "services": []}
    ok(
        client.post(
            f"/v1/clusters/{world.cluster_id}/status", headers=world.h(world.agent_token), json=report
        ),
        201,
    )
    live = _build(starbase, client, world, build_id)
    assert live["state"] == "live" and live["live_at"] is not None


def test_the_build_log_is_stored_paged_and_followed(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    (build_id,) = ok(github.push("acme/web", "main"), 202)["builds"]
    runner(starbase, distribution_open, build_service(), clock=PAST_DEBOUNCE).run(build_id)
    auth = starbase.auth(world.owner)
    first = ok(client.get(f"/v1/builds/{build_id}/logs", headers=auth, params={"limit": 3}))
    assert [line["seq"] for line in first["lines"]] == [1, 2, 3] and not first["complete"]
    rest = ok(client.get(f"/v1/builds/{build_id}/logs", headers=auth, params={"after": first["next_after"]}))
    assert rest["complete"] and rest["lines"][0]["seq"] == 4
    texts = [line["text"] for line in first["lines"] + rest["lines"]]
    assert any("Pushed" in text for text in texts) and any("step 5/5" in text for text in texts)
    with client.stream(
        "GET", f"/v1/builds/{build_id}/logs", headers=auth, params={"follow": "true"}
    ) as streamed:
        assert streamed.headers["content-type"].startswith("application/x-ndjson")
        records = [json.loads(line) for line in streamed.iter_lines() if line]
    assert [r["text"] for r in records[:-1]] == texts
    assert records[-1] == {"next_after": len(texts), "complete": True}
    too_many = client.get(f"/v1/builds/{build_id}/logs", headers=auth, params={"limit": 5001})
    assert too_many.status_code == 422


def test_a_failing_build_leaves_the_running_deployment_untouched(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    service = build_service()
    worker = runner(starbase, distribution_open, service, clock=PAST_DEBOUNCE)
    (good,) = ok(github.push("acme/web", "main"), 202)["builds"]
    assert worker.run(good).outcome == "deployed"
    generation = _generation(client, world)
    bad_commit = secrets.token_hex(20)
    service.script_commit(
        bad_commit, BuildScript(build_seconds=0.1, outcome=Outcome.BUILD_ERROR, message="tsc: 3 errors")
    )
    (bad,) = ok(github.push("acme/web", "main", bad_commit), 202)["builds"]
    result = worker.run(bad)
    assert (result.outcome, result.state) == ("finished", "failed")
    failed = _build(starbase, client, world, bad)
    assert (failed["state"], failed["failure_reason"], failed["failure_message"]) == (
        "failed",
        "build_error",
        "tsc: 3 errors",
    )
    assert failed["deployment_id"] is None and failed["attempts"] == 0
    deployments = ok(client.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner)))
    assert [d["id"] for d in deployments] == [_build(starbase, client, world, good)["deployment_id"]]
    assert _generation(client, world) == generation


def test_a_transient_failure_is_retried_as_a_new_attempt_and_then_deploys(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    service = build_service()
    commit = secrets.token_hex(20)
    service.script_commit(commit, BuildScript(queue_seconds=0.01, outcome=Outcome.INFRASTRUCTURE))
    worker = runner(starbase, distribution_open, service, clock=PAST_DEBOUNCE, retry_backoff=dt.timedelta(0))
    (build_id,) = ok(github.push("acme/web", "main", commit), 202)["builds"]
    first = worker.run(build_id)
    assert (first.outcome, first.state) == ("retry", "queued") and first.retry_at is not None
    assert _build(starbase, client, world, build_id)["failure_reason"] == "infrastructure"
    service.script_commit(commit, FAST)
    assert worker.run(build_id).outcome == "deployed"
    done = _build(starbase, client, world, build_id)
    assert (done["state"], done["attempts"]) == ("deploying", 1)


def test_transient_failures_stop_after_the_attempt_limit(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    service = build_service()
    worker = runner(
        starbase,
        distribution_open,
        service,
        clock=PAST_DEBOUNCE,
        retry_backoff=dt.timedelta(0),
        max_attempts=2,
    )
    (build_id,) = ok(github.push("acme/web", "main"), 202)["builds"]
    service.fail_next(BuildUnavailableError("depot: 503"), times=2)
    assert worker.run(build_id).outcome == "retry"
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("finished", "failed")
    failed = _build(starbase, client, world, build_id)
    assert (failed["failure_reason"], failed["attempts"]) == ("infrastructure", 1)


def test_a_newer_push_cancels_the_running_build_which_never_deploys(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    service = build_service(BuildScript(queue_seconds=0.01, build_seconds=3600, push_seconds=0.01))
    pushed: dict[str, str] = {}

    def push_during_build(seconds: float) -> bool:
        if "newer" not in pushed:
            answer = ok(github.push("acme/web", "main"), 202)
            pushed["newer"] = answer["builds"][0]
            assert answer["cancelled"] == [pushed["older"]]
        return True

    (pushed["older"],) = ok(github.push("acme/web", "main"), 202)["builds"]
    worker = runner(starbase, distribution_open, service, clock=PAST_DEBOUNCE, pause=push_during_build)
    result = worker.run(pushed["older"])
    assert (result.outcome, result.state) == ("cancelled", "cancelled")
    older = _build(starbase, client, world, pushed["older"])
    assert older["state"] == "cancelled" and older["deployment_id"] is None
    external = [status for status in service.builds.values() if status.phase.value == "cancelled"]
    assert len(external) == 1
    assert ok(client.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner))) == []
    assert _build(starbase, client, world, pushed["newer"])["state"] == "queued"


def test_a_build_cancelled_after_its_push_deploys_nothing(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    (build_id,) = ok(github.push("acme/web", "main"), 202)["builds"]
    service = build_service()
    store = starbase.starbase.store
    reader, _ = distribution_open.client()

    class CancelBeforeResolving:
        """The registry, once a newer build by hand has cancelled this one."""

        def resolve(self, reference: object) -> object:
            url = f"/v1/services/{world.web_id}/builds"
            ok(client.post(url, headers=world.h(world.owner), json={"commit_sha": "a" * 40}), 201)
            return reader.resolve(reference)

    worker = runner(
        starbase, distribution_open, service, clock=PAST_DEBOUNCE, registry=CancelBeforeResolving()
    )
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("cancelled", "cancelled")
    assert store.get_build(build_id).deployment_id is None
    assert ok(client.get(f"/v1/services/{world.web_id}/deployments", headers=world.h(world.owner))) == []


def test_a_build_cancelled_while_it_fails_stays_cancelled(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    commit = secrets.token_hex(20)
    service = build_service()
    service.script_commit(
        commit, BuildScript(queue_seconds=0.01, build_seconds=0.3, outcome=Outcome.BUILD_ERROR)
    )
    (older,) = ok(github.push("acme/web", "main", commit), 202)["builds"]
    newer: list[str] = []

    def cancel_then_let_it_fail(seconds: float) -> bool:
        if not newer:
            newer.extend(ok(github.push("acme/web", "main"), 202)["builds"])
            wait_for(
                lambda: all(service.status(b).phase.terminal for b in service.builds), what="the failure"
            )
        return True

    worker = runner(starbase, distribution_open, service, clock=PAST_DEBOUNCE, pause=cancel_then_let_it_fail)
    result = worker.run(older)
    assert (result.outcome, result.state) == ("finished", "cancelled")
    cancelled = _build(starbase, client, world, older)
    assert (cancelled["state"], cancelled["failure_reason"]) == ("cancelled", None)
    assert "superseded" in cancelled["failure_message"]
