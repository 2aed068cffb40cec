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
from tests.pushdeploy.pipeline import FAST, Minutes, Pipeline, shifted, wait_for
from tests.pushdeploy.rig import GitHub, connect, set_source
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


def test_a_push_is_built_pushed_resolved_and_deployed_then_goes_live(pipeline: Pipeline) -> None:
    client, world = pipeline.client, pipeline.world
    before = pipeline.generation()
    commit = secrets.token_hex(20)
    build_id = pipeline.push(commit=commit)
    minutes = Minutes()
    service = pipeline.build_services()
    worker = pipeline.runner(service, clock=PAST_DEBOUNCE, minutes=minutes)
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("deployed", "deploying")
    build = pipeline.build(build_id)
    reader, _ = pipeline.registry.client()
    from starform_core.registry import parse_image_reference

    resolved = reader.resolve(parse_image_reference(build["image"]))
    assert build["digest"] == str(resolved.digest)
    config = reader.image_config(parse_image_reference(build["image"]))
    assert config.command == ("/bin/sh", "-c", "python -m app")
    (deployment,) = pipeline.deployments()
    assert deployment["id"] == build["deployment_id"]
    assert deployment["image"] == f"{build['image']}@{build['digest']}"
    assert build["generation"] == pipeline.generation() > before
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
    live = pipeline.build(build_id)
    assert live["state"] == "live" and live["live_at"] is not None


def test_the_build_log_is_stored_paged_and_followed(pipeline: Pipeline) -> None:
    build_id = pipeline.push()
    pipeline.runner(pipeline.build_services(), clock=PAST_DEBOUNCE).run(build_id)
    client, auth = pipeline.client, pipeline.starbase.auth(pipeline.world.owner)
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


def test_a_failing_build_leaves_the_running_deployment_untouched(pipeline: Pipeline) -> None:
    service = pipeline.build_services()
    worker = pipeline.runner(service, clock=PAST_DEBOUNCE)
    good = pipeline.push()
    assert worker.run(good).outcome == "deployed"
    generation = pipeline.generation()
    bad_commit = secrets.token_hex(20)
    service.script_commit(
        bad_commit, BuildScript(build_seconds=0.1, outcome=Outcome.BUILD_ERROR, message="tsc: 3 errors")
    )
    bad = pipeline.push(commit=bad_commit)
    result = worker.run(bad)
    assert (result.outcome, result.state) == ("finished", "failed")
    failed = pipeline.build(bad)
    assert (failed["state"], failed["failure_reason"], failed["failure_message"]) == (
        "failed",
        "build_error",
        "tsc: 3 errors",
    )
    assert failed["deployment_id"] is None and failed["attempts"] == 0
    deployments = pipeline.deployments()
    assert [d["id"] for d in deployments] == [pipeline.build(good)["deployment_id"]]
    assert pipeline.generation() == generation


def test_a_transient_failure_is_retried_as_a_new_attempt_and_then_deploys(pipeline: Pipeline) -> None:
    service = pipeline.build_services()
    commit = secrets.token_hex(20)
    service.script_commit(commit, BuildScript(queue_seconds=0.01, outcome=Outcome.INFRASTRUCTURE))
    worker = pipeline.runner(service, clock=PAST_DEBOUNCE, retry_backoff=dt.timedelta(0))
    build_id = pipeline.push(commit=commit)
    first = worker.run(build_id)
    assert (first.outcome, first.state) == ("retry", "queued") and first.retry_at is not None
    assert pipeline.build(build_id)["failure_reason"] == "infrastructure"
    service.script_commit(commit, FAST)
    assert worker.run(build_id).outcome == "deployed"
    done = pipeline.build(build_id)
    assert (done["state"], done["attempts"]) == ("deploying", 1)


def test_transient_failures_stop_after_the_attempt_limit(pipeline: Pipeline) -> None:
    service = pipeline.build_services()
    worker = pipeline.runner(
        service,
        clock=PAST_DEBOUNCE,
        retry_backoff=dt.timedelta(0),
        max_attempts=2,
    )
    build_id = pipeline.push()
    service.fail_next(BuildUnavailableError("depot: 503"), times=2)
    assert worker.run(build_id).outcome == "retry"
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("finished", "failed")
    failed = pipeline.build(build_id)
    assert (failed["failure_reason"], failed["attempts"]) == ("infrastructure", 1)


def test_a_newer_push_cancels_the_running_build_which_never_deploys(pipeline: Pipeline) -> None:
    service = pipeline.build_services(BuildScript(queue_seconds=0.01, build_seconds=3600, push_seconds=0.01))
    pushed: dict[str, str] = {}

    def push_during_build(seconds: float) -> bool:
        if "newer" not in pushed:
            answer = ok(pipeline.github.push("acme/web", "main"), 202)
            pushed["newer"] = answer["builds"][0]
            assert answer["cancelled"] == [pushed["older"]]
        return True

    pushed["older"] = pipeline.push()
    worker = pipeline.runner(service, clock=PAST_DEBOUNCE, pause=push_during_build)
    result = worker.run(pushed["older"])
    assert (result.outcome, result.state) == ("cancelled", "cancelled")
    older = pipeline.build(pushed["older"])
    assert older["state"] == "cancelled" and older["deployment_id"] is None
    external = [status for status in service.builds.values() if status.phase.value == "cancelled"]
    assert len(external) == 1
    assert pipeline.deployments() == []
    assert pipeline.build(pushed["newer"])["state"] == "queued"


def test_a_build_cancelled_after_its_push_deploys_nothing(pipeline: Pipeline) -> None:
    build_id = pipeline.push()
    service = pipeline.build_services()
    store = pipeline.store
    reader, _ = pipeline.registry.client()

    class CancelBeforeResolving:
        """The registry, once a newer build by hand has cancelled this one."""

        def resolve(self, reference: object) -> object:
            pipeline.build_by_hand("a" * 40)
            return reader.resolve(reference)

    worker = pipeline.runner(service, clock=PAST_DEBOUNCE, registry=CancelBeforeResolving())
    result = worker.run(build_id)
    assert (result.outcome, result.state) == ("cancelled", "cancelled")
    assert store.get_build(build_id).deployment_id is None
    assert pipeline.deployments() == []


def test_a_build_cancelled_while_it_fails_stays_cancelled(pipeline: Pipeline) -> None:
    commit = secrets.token_hex(20)
    service = pipeline.build_services()
    service.script_commit(
        commit, BuildScript(queue_seconds=0.01, build_seconds=0.3, outcome=Outcome.BUILD_ERROR)
    )
    older = pipeline.push(commit=commit)
    newer: list[str] = []

    def cancel_then_let_it_fail(seconds: float) -> bool:
        if not newer:
            newer.extend(ok(pipeline.github.push("acme/web", "main"), 202)["builds"])
            wait_for(
                lambda: all(service.status(b).phase.terminal for b in service.builds), what="the failure"
            )
        return True

    worker = pipeline.runner(service, clock=PAST_DEBOUNCE, pause=cancel_then_let_it_fail)
    result = worker.run(older)
    assert (result.outcome, result.state) == ("finished", "cancelled")
    cancelled = pipeline.build(older)
    assert (cancelled["state"], cancelled["failure_reason"]) == ("cancelled", None)
    assert "superseded" in cancelled["failure_message"]
