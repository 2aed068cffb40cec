"""The build jobs on procrastinate (real PostgreSQL, real registry): a push runs through the
queue to a deployment; two workers given the same build twice run it once; the sweep hands a
build whose worker was stopped mid-build to another worker once the lease expires."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import procrastinate
import pytest
from tests.pushdeploy.pipeline import BuildServices, utc_now, wait_for
from tests.pushdeploy.queue import WorkerThread, build_worker, opened_queue
from tests.pushdeploy.rig import GitHub, RecordingJobs, connect, set_source
from tests.registry.kit.backends import Backend
from tests.starbase.world import World, ok

from starform_adapters.build import BuildScript, HttpBuildService, SimulatedBuildService
from starform_apps.starbase.deploy.tasks import NAMESPACE, ProcrastinateBuildJobs, sweep
from starform_core.build import BuildState
from starform_testkit.build_server import BuildServer
from starform_testkit.starbase import RunningStarbase

LONG = BuildScript(queue_seconds=0.01, build_seconds=3600, push_seconds=0.01)


@pytest.fixture(scope="module")
def queue(starbase: RunningStarbase, jobs: RecordingJobs) -> Iterator[procrastinate.App]:
    """Procrastinate on the Starbase's database; the routes' hand-overs go to it."""
    with opened_queue(starbase.starbase.database_url) as app:
        jobs.forward = ProcrastinateBuildJobs(app)
        yield app
        jobs.forward = None


@pytest.fixture
def github(starbase: RunningStarbase, client: httpx.Client, world: World) -> GitHub:
    """``acme/web@main`` builds the staging web service."""
    installation = connect(starbase, client, world)
    set_source(starbase, client, world, installation, world.web_id)
    return installation


def _state(sb: RunningStarbase, build_id: str) -> BuildState:
    return sb.starbase.store.get_build(build_id).state


def test_a_push_goes_through_the_queue_to_a_deployment(
    starbase: RunningStarbase,
    queue: procrastinate.App,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    reader, _ = distribution_open.client()
    worker = build_worker(starbase, build_service(), reader, distribution_open.host, queue)
    (build_id,) = ok(github.push("acme/web", "main"), 202)["builds"]
    with WorkerThread(starbase.starbase.database_url, worker, name="worker-a"):
        wait_for(lambda: _state(starbase, build_id) is BuildState.DEPLOYING, timeout=60, what="the deploy")
    build = starbase.starbase.store.get_build(build_id)
    (deployment,) = starbase.starbase.store.list_deployments(world.web_id)
    assert deployment.deployment_id == build.deployment_id and deployment.image.endswith(f"@{build.digest}")
    assert build.started_at is not None and build.started_at >= build.not_before


def test_two_workers_handed_the_same_build_twice_run_it_once(
    starbase: RunningStarbase,
    client: httpx.Client,
    queue: procrastinate.App,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    reader, _ = distribution_open.client()
    service = build_service(BuildScript(queue_seconds=0.01, build_seconds=1.0, push_seconds=0.01))
    url = f"/v1/services/{world.web_id}/builds"
    build = ok(client.post(url, headers=world.h(world.owner), json={"commit_sha": "b" * 40}), 201)
    unlocked = queue.configure_task(name=f"{NAMESPACE}:run_build")
    unlocked.defer(build_id=build["id"])
    unlocked.defer(build_id=build["id"])
    first = build_worker(starbase, service, reader, distribution_open.host, queue)
    second = build_worker(starbase, service, reader, distribution_open.host, queue)
    with (
        WorkerThread(starbase.starbase.database_url, first, name="worker-1"),
        WorkerThread(starbase.starbase.database_url, second, name="worker-2"),
    ):
        wait_for(lambda: _state(starbase, build["id"]) is BuildState.DEPLOYING, timeout=60, what="the deploy")
    assert len(service.builds) == 1
    assert len(starbase.starbase.store.list_deployments(world.web_id)) == 1


def test_a_build_whose_worker_stopped_mid_build_is_run_again_after_its_lease_expires(
    starbase: RunningStarbase,
    client: httpx.Client,
    queue: procrastinate.App,
    world: World,
    github: GitHub,
    distribution_open: Backend,
    build_service: BuildServices,
) -> None:
    reader, _ = distribution_open.client()
    store = starbase.starbase.store
    stuck = build_service(LONG)
    lease = dt.timedelta(seconds=2)
    dying = build_worker(starbase, stuck, reader, distribution_open.host, queue, lease=lease)
    url = f"/v1/services/{world.web_id}/builds"
    build = ok(client.post(url, headers=world.h(world.owner), json={"commit_sha": "c" * 40}), 201)
    with WorkerThread(starbase.starbase.database_url, dying, name="worker-dying"):
        wait_for(
            lambda: _state(starbase, build["id"]) is BuildState.BUILDING,
            timeout=30,
            what="the build to start",
        )
    assert store.get_build(build["id"]).state is BuildState.BUILDING
    healthy = build_service()
    rescuer = build_worker(starbase, healthy, reader, distribution_open.host, queue)
    with WorkerThread(starbase.starbase.database_url, rescuer, name="worker-rescuer"):
        swept = wait_for(lambda: sweep(rescuer, utc_now()), timeout=30, what="the lease to expire")
        assert build["id"] in swept
        wait_for(
            lambda: _state(starbase, build["id"]) is BuildState.DEPLOYING, timeout=60, what="the take-over"
        )
    assert len(healthy.builds) == 1 and store.get_build(build["id"]).attempts == 0


def test_a_killed_workers_build_is_taken_over_after_its_lease_expires(
    starbase: RunningStarbase,
    client: httpx.Client,
    queue: procrastinate.App,
    world: World,
    github: GitHub,
    distribution_open: Backend,
) -> None:
    _, writer = distribution_open.client()
    double = SimulatedBuildService(
        writer, clock=utc_now, script=BuildScript(queue_seconds=0.01, build_seconds=4.0, push_seconds=0.01)
    )
    store = starbase.starbase.store
    with BuildServer(double) as server:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.pushdeploy.worker_process",
                starbase.starbase.database_url,
                distribution_open.host,
                server.url,
                "3",
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "BUILD_SERVICE_TOKEN": server.token.reveal()},
        )
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
            url = f"/v1/services/{world.web_id}/builds"
            build = ok(client.post(url, headers=world.h(world.owner), json={"commit_sha": "d" * 40}), 201)
            wait_for(
                lambda: _state(starbase, build["id"]) is BuildState.BUILDING, timeout=30, what="the build"
            )
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert _state(starbase, build["id"]) is BuildState.BUILDING
        reader, _ = distribution_open.client()
        client_of = HttpBuildService(server.url, server.token)
        rescuer = build_worker(starbase, client_of, reader, distribution_open.host, queue)
        with WorkerThread(starbase.starbase.database_url, rescuer, name="worker-rescuer"):
            swept = wait_for(lambda: sweep(rescuer, utc_now()), timeout=30, what="the lease to expire")
            assert build["id"] in swept
            wait_for(
                lambda: _state(starbase, build["id"]) is BuildState.DEPLOYING,
                timeout=60,
                what="the take-over",
            )
        client_of.close()
    assert len(double.builds) == 1, "the rescuer followed the killed worker's build"
    done = store.get_build(build["id"])
    assert done.attempts == 0 and done.digest is not None
    lines = store.read_logs(build["id"], limit=5000).lines
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
