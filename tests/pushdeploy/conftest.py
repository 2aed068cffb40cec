"""Push to deploy's fixtures: one embedded PostgreSQL per session, the real registry, a Starbase
per module resolving through it, and the job hand-overs it records."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.pushdeploy.pipeline import BuildServices, Pipeline
from tests.pushdeploy.rig import GitHub, RecordingJobs
from tests.registry.kit.backends import Backend
from tests.registry.kit.fixtures import distribution_open  # noqa: F401 - fixture
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.world import World, build_world

from starform_apps.starbase.logs import configure_logging
from starform_testkit.postgres import postgres_server
from starform_testkit.starbase import RunningStarbase, running_starbase


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    """Starbase's JSON logs into the session's buffer (the secrets tests read it)."""
    configure_logging("info", stream=LOG_BUFFER)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The session's PostgreSQL server URL (embedded, or DATABASE_URL)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def jobs() -> RecordingJobs:
    """What the routes hand to the job queue."""
    return RecordingJobs()


@pytest.fixture(scope="module")
def starbase(pg_server: str, distribution_open: Backend, jobs: RecordingJobs) -> Iterator[RunningStarbase]:  # noqa: F811
    """A Starbase whose hand deploys resolve tags through the real registry."""
    reader, _ = distribution_open.client()
    with running_starbase(server_url=pg_server, registry=reader, build_jobs=jobs) as running:
        yield running


@pytest.fixture(scope="module")
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the module's Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def build_service(distribution_open: Backend) -> Iterator[BuildServices]:  # noqa: F811
    """Make build doubles served over HTTP, pushing to the real registry."""
    services = BuildServices(distribution_open)
    yield services
    services.close()


@pytest.fixture
def world(starbase: RunningStarbase, client: httpx.Client) -> World:
    """A fresh tenant: its own workspace, project, environments, services, builds."""
    return build_world(starbase, client)


@pytest.fixture
def pipeline(
    starbase: RunningStarbase,
    client: httpx.Client,
    world: World,
    github: GitHub,
    distribution_open: Backend,  # noqa: F811
    build_service: BuildServices,
) -> Pipeline:
    """The test's rig: Starbase, a tenant, its GitHub installation (the module's ``github``
    fixture says which services build from which repository), the registry, build doubles."""
    return Pipeline(starbase, client, world, github, distribution_open, build_service)
