"""Procrastinate on the module's Starbase database: the App with the build tasks, and workers
run in threads (stopped by cancelling them) or in a separate process (killed)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import procrastinate
import psycopg

from starform_apps.starbase.deploy.runner import RunnerConfig
from starform_apps.starbase.deploy.tasks import NAMESPACE, BuildWorker, ProcrastinateBuildJobs, make_blueprint
from starform_core.ports.build import BuildService
from starform_core.ports.registry import ImageRegistry
from starform_testkit.starbase import RunningStarbase


def job_app(database_url: str) -> procrastinate.App:
    """An App with the build tasks on ``database_url`` (not opened)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=database_url, min_size=1, max_size=4)
    )
    app.add_tasks_from(make_blueprint(), namespace=NAMESPACE)
    return app


@contextmanager
def opened_queue(database_url: str) -> Iterator[procrastinate.App]:
    """The App opened, with its schema applied once."""
    app = job_app(database_url)
    with psycopg.connect(database_url) as conn:
        record = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
    with app.open():
        if record is None or record[0] is None:
            app.schema_manager.apply_schema()
        yield app


def build_worker(
    sb: RunningStarbase,
    service: BuildService,
    registry: ImageRegistry,
    registry_host: str,
    app: procrastinate.App,
    **config: object,
) -> BuildWorker:
    """The worker context of a Starbase's builds."""
    settings: dict[str, object] = {"lease": dt.timedelta(seconds=30), "poll_seconds": 0.05, **config}
    return BuildWorker(
        builds=sb.starbase.store,
        git=sb.starbase.store,
        service=service,
        registry=registry,
        config=RunnerConfig(registry=registry_host, **settings),  # type: ignore[arg-type]
        jobs=ProcrastinateBuildJobs(app),
    )


class WorkerThread:
    """A procrastinate worker in a thread of its own, on its own App."""

    def __init__(self, database_url: str, worker: BuildWorker, *, name: str, concurrency: int = 2) -> None:
        self._app = job_app(database_url)
        self._worker = worker
        self._name = name
        self._concurrency = concurrency
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def work() -> None:
            async with self._app.open_async():
                self._started.set()
                await self._app.run_worker_async(
                    concurrency=self._concurrency,
                    name=self._name,
                    additional_context={NAMESPACE: self._worker},
                    install_signal_handlers=False,
                    fetch_job_polling_interval=0.1,
                    delete_jobs="successful",
                    shutdown_graceful_timeout=5,
                )

        self._task = self._loop.create_task(work())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def __enter__(self) -> WorkerThread:
        self._thread.start()
        assert self._started.wait(20), "the worker did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._worker.stop.set()
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=30)
