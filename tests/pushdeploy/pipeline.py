"""Workers for the pipeline tests: the build double pushing to the real registry, runners on the
module's Starbase store, and waiting on conditions with deadlines."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import attrs
from tests.registry.kit.backends import Backend

from starform_adapters.build import BuildScript, HttpBuildService, SimulatedBuildService
from starform_apps.starbase.deploy.runner import BuildRunner, RunnerConfig
from starform_core.build import BuildRecord
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
