"""Push to deploy's jobs on Starbase's queue (a procrastinate blueprint, namespace ``builds``).

* ``builds:run_build(build_id)``: a worker runs the build (:class:`~.runner.BuildRunner`); when
  the build must wait (its debounce window, its workspace's concurrency limit, a retry's
  backoff) the job defers the next run for that time. One pending job per build (a queueing
  lock), so a debounced push that hands the same build over again queues nothing more.
* ``builds:purge_deliveries``, daily: forgets webhook deliveries older than
  :data:`DELIVERY_RETENTION` (the de-duplication window).
* ``builds:sweep``, every 15 s: builds whose worker stopped renewing its lease (killed, lost its
  machine) and queued builds whose job was lost are handed to the queue again; the next worker
  takes the expired lease over. This is what makes a crashed worker's build run again.

Tasks get their dependencies from the worker's context (``additional_context["builds"]``, a
:class:`BuildWorker`), built by the composition root.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Callable

import attrs
import procrastinate
import structlog
from procrastinate import Blueprint, JobContext, RetryDecision
from procrastinate import exceptions as job_errors
from procrastinate.jobs import Job

from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.deploy.runner import BuildMinutes, BuildRunner, RunnerConfig
from starform_core.errors import StarformError, StoreError
from starform_core.ports import BuildStore, GitIntegrationStore
from starform_core.ports.build import BuildService
from starform_core.ports.registry import ImageRegistry

__all__ = [
    "DELIVERY_RETENTION",
    "NAMESPACE",
    "OVERDUE_GRACE",
    "PURGE_CRON",
    "SWEEP_CRON",
    "BuildWorker",
    "ProcrastinateBuildJobs",
    "make_blueprint",
    "sweep",
]

NAMESPACE = "builds"
SWEEP_CRON = "* * * * * */15"
"""Every 15 seconds (procrastinate's sixth cron field is the second)."""
OVERDUE_GRACE = dt.timedelta(seconds=60)
"""How long a due, unclaimed build waits before the sweep hands it to the queue again."""
PURGE_CRON = "41 4 * * *"
"""When old webhook deliveries are forgotten (UTC)."""
DELIVERY_RETENTION = dt.timedelta(days=30)
"""How long a delivery id is remembered (GitHub lets people redeliver for a few days)."""
_log = structlog.get_logger("starbase.builds")


class ProcrastinateBuildJobs:
    """:class:`~.ports.BuildJobs` on procrastinate: ``builds:run_build`` with one pending job per
    build. The App must be open (the composition root opens and closes it), or ``open_app``
    opens it on first use (Starbase's scheduler shares its App)."""

    def __init__(
        self,
        app: procrastinate.App | None = None,
        *,
        open_app: Callable[[], procrastinate.App] | None = None,
    ) -> None:
        if app is None and open_app is None:
            raise ValueError("give the App, or a function opening it")
        self._app = app
        self._open_app = open_app

    def run_build(self, build_id: str, *, at: dt.datetime) -> None:
        """Queue the build's run for ``at`` (a pending one already queued is kept)."""
        app = self._app if self._app is not None else self._open_app()  # type: ignore[misc]
        deferrer = app.configure_task(
            name=f"{NAMESPACE}:run_build", queueing_lock=f"build:{build_id}", schedule_at=at
        )
        try:
            deferrer.defer(build_id=build_id)
        except job_errors.AlreadyEnqueued:
            return


@attrs.frozen
class BuildWorker:
    """Everything a worker's build tasks need; :meth:`runner` makes one per job."""

    builds: BuildStore
    git: GitIntegrationStore
    service: BuildService
    registry: ImageRegistry
    config: RunnerConfig
    jobs: ProcrastinateBuildJobs
    stop: threading.Event = attrs.field(factory=threading.Event)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    minutes: BuildMinutes | None = None
    metrics: DeployMetrics | None = None

    def runner(self, job_id: int | None) -> BuildRunner:
        """A runner whose lease owner names this host, process and job."""
        return BuildRunner(
            builds=self.builds,
            git=self.git,
            service=self.service,
            registry=self.registry,
            config=self.config,
            owner=f"{socket.gethostname()}:{os.getpid()}:job-{job_id}",
            clock=self.clock,
            pause=lambda seconds: not self.stop.wait(seconds),
            minutes=self.minutes,
            metrics=self.metrics,
        )


class _StoreOutage(procrastinate.BaseRetryStrategy):
    """Retry a job the database failed (2, 4, 8, ... s, at most 5 min, 10 times)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, StoreError) or job.attempts >= 10:
            return None
        return RetryDecision(retry_in={"seconds": min(300, 2 ** (job.attempts + 1))})


def _worker(context: JobContext) -> BuildWorker | None:
    """The worker's build context; ``None`` when this worker runs no builds (none configured)."""
    worker: BuildWorker | None = context.additional_context.get(NAMESPACE)
    return worker


def sweep(worker: BuildWorker, now: dt.datetime) -> list[str]:
    """Hand builds with expired leases, and lost queued builds, back to the queue."""
    expired = list(worker.builds.expired_leases(now=now))
    overdue = list(worker.builds.overdue_builds(now=now, grace=OVERDUE_GRACE))
    for build_id in expired + overdue:
        worker.jobs.run_build(build_id, at=now)
    if expired:
        _log.warning("builds whose worker stopped renewing its lease run again", builds=expired)
        if worker.metrics is not None:
            worker.metrics.leases_lost.inc(len(expired))
    return expired + overdue


def make_blueprint() -> Blueprint:
    """A fresh blueprint of the build tasks (an App namespaces the tasks it adds, in place)."""
    blueprint = Blueprint()

    @blueprint.task(name="run_build", pass_context=True, retry=_StoreOutage())
    def run_build(context: JobContext, build_id: str) -> None:
        """Run the build; queue its next run when it must wait."""
        worker = _worker(context)
        if worker is None:
            raise StarformError("this worker runs no builds: set STARBASE_BUILD_SERVICE_URL and its token")
        result = worker.runner(context.job.id).run(build_id)
        if result.retry_at is not None and result.outcome != "held":
            worker.jobs.run_build(build_id, at=result.retry_at)

    @blueprint.periodic(cron=SWEEP_CRON)
    @blueprint.task(name="sweep", pass_context=True, retry=_StoreOutage())
    def sweep_builds(context: JobContext, timestamp: int) -> None:
        """Run again what lost its worker."""
        worker = _worker(context)
        if worker is not None:
            sweep(worker, dt.datetime.fromtimestamp(timestamp, dt.UTC))

    @blueprint.periodic(cron=PURGE_CRON)
    @blueprint.task(name="purge_deliveries", pass_context=True, retry=_StoreOutage())
    def purge_deliveries(context: JobContext, timestamp: int) -> None:
        """Forget deliveries past the de-duplication window."""
        worker = _worker(context)
        if worker is None:
            return
        before = dt.datetime.fromtimestamp(timestamp, dt.UTC) - DELIVERY_RETENTION
        removed = worker.git.purge_deliveries(before=before)
        _log.info("webhook deliveries purged", removed=removed)

    return blueprint
