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
from tests.pushdeploy.pipeline import Pipeline, utc_now, wait_for
from tests.pushdeploy.queue import WorkerThread, build_worker, opened_queue
from tests.pushdeploy.rig import GitHub, RecordingJobs, connect, set_source
from tests.starbase.world import World

from starform_adapters.build import BuildScript, HttpBuildService, SimulatedBuildService
from starform_apps.starbase.deploy.tasks import NAMESPACE, BuildWorker, ProcrastinateBuildJobs, sweep
from starform_core.build import BuildState
from starform_core.ports.build import BuildService
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


def _worker(
    pipeline: Pipeline, service: BuildService, queue: procrastinate.App, **config: object
) -> BuildWorker:
    """A build worker of the pipeline's Starbase on ``queue``, with the real registry."""
    reader, _ = pipeline.registry.client()
    return build_worker(pipeline.starbase, service, reader, pipeline.registry.host, queue, **config)


def test_a_push_goes_through_the_queue_to_a_deployment(pipeline: Pipeline, queue: procrastinate.App) -> None:
    worker = _worker(pipeline, pipeline.build_services(), queue)
    build_id = pipeline.push()
    with WorkerThread(pipeline.starbase.starbase.database_url, worker, name="worker-a"):
        wait_for(lambda: pipeline.state(build_id) is BuildState.DEPLOYING, timeout=60, what="the deploy")
    build = pipeline.store.get_build(build_id)
    (deployment,) = pipeline.store.list_deployments(pipeline.world.web_id)
    assert deployment.deployment_id == build.deployment_id and deployment.image.endswith(f"@{build.digest}")
    assert build.started_at is not None and build.started_at >= build.not_before


def test_two_workers_handed_the_same_build_twice_run_it_once(
    pipeline: Pipeline, queue: procrastinate.App
) -> None:
    service = pipeline.build_services(BuildScript(queue_seconds=0.01, build_seconds=1.0, push_seconds=0.01))
    build = pipeline.build_by_hand("b" * 40)
    unlocked = queue.configure_task(name=f"{NAMESPACE}:run_build")
    unlocked.defer(build_id=build["id"])
    unlocked.defer(build_id=build["id"])
    first, second = _worker(pipeline, service, queue), _worker(pipeline, service, queue)
    database_url = pipeline.starbase.starbase.database_url
    with (
        WorkerThread(database_url, first, name="worker-1"),
        WorkerThread(database_url, second, name="worker-2"),
    ):
        wait_for(lambda: pipeline.state(build["id"]) is BuildState.DEPLOYING, timeout=60, what="the deploy")
    assert len(service.builds) == 1
    assert len(pipeline.store.list_deployments(pipeline.world.web_id)) == 1


def test_a_build_whose_worker_stopped_mid_build_is_run_again_after_its_lease_expires(
    pipeline: Pipeline, queue: procrastinate.App
) -> None:
    store, database_url = pipeline.store, pipeline.starbase.starbase.database_url
    dying = _worker(pipeline, pipeline.build_services(LONG), queue, lease=dt.timedelta(seconds=2))
    build = pipeline.build_by_hand("c" * 40)
    with WorkerThread(database_url, dying, name="worker-dying"):
        wait_for(
            lambda: pipeline.state(build["id"]) is BuildState.BUILDING,
            timeout=30,
            what="the build to start",
        )
    assert store.get_build(build["id"]).state is BuildState.BUILDING
    healthy = pipeline.build_services()
    rescuer = _worker(pipeline, healthy, queue)
    with WorkerThread(database_url, rescuer, name="worker-rescuer"):
        swept = wait_for(lambda: sweep(rescuer, utc_now()), timeout=30, what="the lease to expire")
        assert build["id"] in swept
        wait_for(
            lambda: pipeline.state(build["id"]) is BuildState.DEPLOYING, timeout=60, what="the take-over"
        )
    assert len(healthy.builds) == 1 and store.get_build(build["id"]).attempts == 0


def test_a_killed_workers_build_is_taken_over_after_its_lease_expires(
    pipeline: Pipeline, queue: procrastinate.App
) -> None:
    registry, database_url = pipeline.registry, pipeline.starbase.starbase.database_url
    _, writer = registry.client()
    double = SimulatedBuildService(
        writer, clock=utc_now, script=BuildScript(queue_seconds=0.01, build_seconds=4.0, push_seconds=0.01)
    )
    store = pipeline.store
    with BuildServer(double) as server:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.pushdeploy.worker_process",
                database_url,
                registry.host,
                server.url,
                "3",
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "BUILD_SERVICE_TOKEN": server.token.reveal()},
        )
        try:
            assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
            build = pipeline.build_by_hand("d" * 40)
            wait_for(lambda: pipeline.state(build["id"]) is BuildState.BUILDING, timeout=30, what="the build")
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert pipeline.state(build["id"]) is BuildState.BUILDING
        client_of = HttpBuildService(server.url, server.token)
        rescuer = _worker(pipeline, client_of, queue)
        with WorkerThread(database_url, rescuer, name="worker-rescuer"):
            swept = wait_for(lambda: sweep(rescuer, utc_now()), timeout=30, what="the lease to expire")
            assert build["id"] in swept
            wait_for(
                lambda: pipeline.state(build["id"]) is BuildState.DEPLOYING,
                timeout=60,
                what="the take-over",
            )
        client_of.close()
    assert len(double.builds) == 1, "the rescuer followed the killed worker's build"
    done = store.get_build(build["id"])
    assert done.attempts == 0 and done.digest is not None
    lines = store.read_logs(build["id"], limit=5000).lines
    assert [line.seq for line in lines] == list(range(1, len(lines) + 1))
