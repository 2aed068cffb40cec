"""Workers for the pipeline tests: the build double pushing to the real registry, runners on the
module's Starbase store, and waiting on conditions with deadlines."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import attrs
import httpx
from tests.pushdeploy.rig import GitHub
from tests.registry.kit.backends import Backend
from tests.starbase.world import World, ok

from starform_adapters.build import BuildScript, HttpBuildService, SimulatedBuildService
from starform_apps.starbase.deploy.runner import BuildRunner, RunnerConfig
from starform_core.build import BuildRecord, BuildState
from starform_testkit.build_server import BuildServer, OverHttp
from starform_testkit.starbase import RunningStarbase

FAST = BuildScript(queue_seconds=0.05, build_seconds=0.3, push_seconds=0.05, output_lines=5)
"""A build that takes well under a second."""


def utc_now() -> dt.datetime:
    """The real clock."""
    return dt.datetime.now(dt.UTC)


def shifted(offset: dt.timedelta) -> Callable[[], dt.datetime]:
    """A real clock running ``offset`` ahead (past the debounce window, say)."""
    return lambda: utc_now() + offset


@attrs.define
class Minutes:
    """Builder time the runner billed, by build."""

    recorded: list[tuple[str, float]] = attrs.field(factory=list)

    def record(self, build: BuildRecord, *, started_at: dt.datetime, finished_at: dt.datetime) -> None:
        """Remember it."""
        self.recorded.append((build.build_id, (finished_at - started_at).total_seconds()))


@attrs.define
class BuildServices:
    """Build doubles on the real clock pushing to the registry, each served over HTTP (the
    workers speak to them through :class:`HttpBuildService`); stopped by :meth:`close`."""

    backend: Backend
    stack: ExitStack = attrs.field(factory=ExitStack)

    def __call__(self, script: BuildScript = FAST) -> Any:
        """A served double with ``script`` by default."""
        _, writer = self.backend.client()
        double = SimulatedBuildService(writer, clock=utc_now, script=script)
        server = self.stack.enter_context(BuildServer(double))
        client = HttpBuildService(server.url, server.token)
        self.stack.callback(client.close)
        return OverHttp(double, client)

    def close(self) -> None:
        """Stop every server."""
        self.stack.close()


def runner(
    sb: RunningStarbase,
    backend: Backend,
    service: Any,
    *,
    owner: str = "worker-1",
    clock: Callable[[], dt.datetime] = utc_now,
    stop: threading.Event | None = None,
    minutes: Minutes | None = None,
    registry: Any = None,
    pause: Callable[[float], bool] | None = None,
    **config: Any,
) -> BuildRunner:
    """A runner on the Starbase's store, the build double and the real registry (or the given
    ``registry`` reader and ``pause``)."""
    stopping = stop or threading.Event()
    reader = registry or backend.client()[0]
    settings = {"lease": dt.timedelta(seconds=30), "poll_seconds": 0.02, **config}
    return BuildRunner(
        builds=sb.starbase.store,
        git=sb.starbase.store,
        service=service,
        registry=reader,
        config=RunnerConfig(registry=backend.host, **settings),
        owner=owner,
        clock=clock,
        pause=pause or (lambda seconds: not stopping.wait(seconds)),
        minutes=minutes,
    )


def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it is truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@attrs.frozen
class Pipeline:
    """One test's push-to-deploy rig: the module's Starbase and client, a fresh tenant with a
    GitHub installation (the module's ``github`` fixture), the real registry and build doubles."""

    starbase: RunningStarbase
    client: httpx.Client
    world: World
    github: GitHub
    registry: Backend
    build_services: BuildServices

    @property
    def store(self) -> Any:
        """The Starbase's store."""
        return self.starbase.starbase.store

    def push(self, repository: str = "acme/web", commit: str | None = None) -> str:
        """Deliver a push to ``main``; the one build it queues."""
        (build_id,) = ok(self.github.push(repository, "main", commit), 202)["builds"]
        return str(build_id)

    def build_by_hand(self, commit_sha: str) -> dict[str, Any]:
        """Ask for a build of the staging web service at ``commit_sha`` (the API's answer)."""
        url = f"/v1/services/{self.world.web_id}/builds"
        return ok(
            self.client.post(url, headers=self.world.h(self.world.owner), json={"commit_sha": commit_sha}),
            201,
        )

    def build(self, build_id: str) -> dict[str, Any]:
        """A build as the API shows it."""
        return ok(self.client.get(f"/v1/builds/{build_id}", headers=self.starbase.auth(self.world.owner)))

    def state(self, build_id: str) -> BuildState:
        """A build's state in the store."""
        return self.store.get_build(build_id).state  # type: ignore[no-any-return]

    def deployments(self) -> list[dict[str, Any]]:
        """The staging web service's deployments, as the API lists them."""
        url = f"/v1/services/{self.world.web_id}/deployments"
        return ok(self.client.get(url, headers=self.world.h(self.world.owner)))  # type: ignore[return-value]

    def generation(self) -> int:
        """The generation of the cluster's desired state, as its agent pulls it."""
        world = self.world
        pulled = self.client.get(
            f"/v1/clusters/{world.cluster_id}/desired-state", headers=world.h(world.agent_token)
        )
        assert pulled.status_code == 200
        return int(json.loads(pulled.content)["generation"])

    def runner(self, service: Any, **options: Any) -> BuildRunner:
        """A runner on the store, ``service`` and the real registry (see :func:`runner`)."""
        return runner(self.starbase, self.registry, service, **options)
