"""Leases on real PostgreSQL: two workers never run the same build, a worker that vanished
mid-build has its build taken over once its lease expires (following the same external build),
and a workspace runs at most its limit of builds at once."""

from __future__ import annotations

import datetime as dt
import threading

import httpx
import pytest
from tests.pushdeploy.pipeline import Pipeline, shifted, utc_now
from tests.pushdeploy.rig import GitHub, connect, set_source
from tests.starbase.world import World

from starform_adapters.build import BuildScript
from starform_apps.starbase.deploy.runner import RunResult
from starform_core.gitpush import DEBOUNCE
from starform_testkit.starbase import RunningStarbase

LATER = DEBOUNCE + dt.timedelta(seconds=1)


@pytest.fixture
def github(starbase: RunningStarbase, client: httpx.Client, world: World) -> GitHub:
    """``acme/web@main`` builds the staging web service; ``acme/api@main`` the production one."""
    installation = connect(starbase, client, world)
    set_source(starbase, client, world, installation, world.web_id)
    set_source(starbase, client, world, installation, world.prod_web_id, repository="acme/api")
    return installation


def test_two_workers_racing_for_one_build_run_it_once(pipeline: Pipeline) -> None:
    build_id = pipeline.push()
    service = pipeline.build_services()
    start = threading.Barrier(2)
    results: dict[str, RunResult] = {}

    def work(owner: str) -> None:
        worker = pipeline.runner(service, owner=owner, clock=shifted(LATER))
        start.wait()
        results[owner] = worker.run(build_id)

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = sorted(result.outcome for result in results.values())
    assert outcomes in (["deployed", "held"], ["deployed", "done"])
    assert len(service.builds) == 1
    deployments = pipeline.store.list_deployments(pipeline.world.web_id)
    assert len(deployments) == 1


def test_a_vanished_workers_build_is_taken_over_after_its_lease_expires(pipeline: Pipeline) -> None:
    store = pipeline.store
    build_id = pipeline.push()
    service = pipeline.build_services(BuildScript(queue_seconds=0.01, build_seconds=0.5, push_seconds=0.01))
    vanished = threading.Event()
    vanished.set()  # its first pause finds it gone: the lease stays behind, unrenewed
    lease = dt.timedelta(seconds=10)
    first = pipeline.runner(service, owner="worker-a", clock=shifted(LATER), stop=vanished, lease=lease)
    assert first.run(build_id).outcome == "stopped"
    claimed = store.get_build(build_id)
    assert claimed.state in ("queued", "building") and claimed.started_at is not None
    assert store.expired_leases(now=utc_now() + LATER) == []
    second = pipeline.runner(service, owner="worker-b", clock=shifted(LATER))
    assert second.run(build_id).outcome == "held"
    expired = LATER + lease + dt.timedelta(seconds=1)
    assert build_id in store.expired_leases(now=utc_now() + expired)
    takeover = pipeline.runner(service, owner="worker-b", clock=shifted(expired))
    assert takeover.run(build_id).outcome == "deployed"
    assert len(service.builds) == 1, "the take-over follows the same external build"
    done = store.get_build(build_id)
    assert (done.state, done.attempts) == ("deploying", 0)
    lines = store.read_logs(build_id, limit=5000).lines
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1)), "no line copied twice"


def test_a_workspace_runs_at_most_its_limit_of_builds_at_once(pipeline: Pipeline) -> None:
    web = pipeline.push()
    api = pipeline.push("acme/api")
    service = pipeline.build_services(BuildScript(queue_seconds=0.01, build_seconds=0.2, push_seconds=0.01))
    gone = threading.Event()
    gone.set()
    holder = pipeline.runner(service, owner="worker-a", clock=shifted(LATER), stop=gone, max_active=1)
    assert holder.run(web).outcome == "stopped"
    waiting = pipeline.runner(service, owner="worker-b", clock=shifted(LATER), max_active=1)
    held_back = waiting.run(api)
    assert held_back.outcome == "wait" and held_back.retry_at is not None
    assert pipeline.store.get_build(api).state == "queued"
    resumed = pipeline.runner(service, owner="worker-a", clock=shifted(LATER), max_active=1)
    assert resumed.run(web).outcome == "deployed"
    assert waiting.run(api).outcome == "deployed"


def test_a_build_waits_for_its_debounce_window(pipeline: Pipeline) -> None:
    build_id = pipeline.push()
    early = pipeline.runner(pipeline.build_services()).run(build_id)
    assert early.outcome == "wait" and early.retry_at is not None
    assert early.retry_at - utc_now() <= DEBOUNCE
    assert pipeline.store.get_build(build_id).started_at is None
