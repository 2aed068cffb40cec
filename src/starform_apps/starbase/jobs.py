"""Starbase's job queue: one procrastinate App on Starbase's PostgreSQL, and its worker.

**The one place tasks are registered** is :data:`BLUEPRINTS`: each entry is a namespace and a
function returning a fresh procrastinate :class:`~procrastinate.Blueprint` (procrastinate
renames a blueprint's tasks ``<namespace>:<task>`` in place when an App adds them, so each App
gets new ones). A new kind of job (builds, say) adds its blueprint factory here. Tasks receive
their dependencies through the worker's context (``context.additional_context[name]``), built by
the composition root.

The queue's schema is applied by ``starbase migrate`` (and ``serve``/``worker``) through
:func:`~starform_adapters.postgres.job_schema.migrate_job_queue`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any

import procrastinate
from procrastinate import exceptions as job_errors

from starform_apps.starbase.billing import tasks as billing_tasks
from starform_core.billing import BillingMonth

__all__ = ["BLUEPRINTS", "ProcrastinateScheduler", "create_job_app", "run_worker"]

BLUEPRINTS: Mapping[str, Callable[[], procrastinate.Blueprint]] = {"billing": billing_tasks.make_blueprint}
"""Every task of Starbase's queue, by namespace."""


def create_job_app(conninfo: str) -> procrastinate.App:
    """The App with every blueprint registered (nothing connects until it is opened)."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    for namespace, make_blueprint in BLUEPRINTS.items():
        app.add_tasks_from(make_blueprint(), namespace=namespace)
    return app


def run_worker(
    app: procrastinate.App,
    *,
    context: Mapping[str, Any],
    concurrency: int = 1,
    wait: bool = True,
    name: str = "starbase-worker",
) -> None:
    """Run a worker until stopped (SIGINT/SIGTERM); with ``wait=False``, until the queue is empty.

    Periodic tasks are deferred by running workers (procrastinate de-duplicates them across
    workers), so keep at least one worker running.
    """

    async def work() -> None:
        async with app.open_async():
            await app.run_worker_async(
                concurrency=concurrency,
                wait=wait,
                name=name,
                additional_context=dict(context),
                install_signal_handlers=wait,
                delete_jobs="successful",
            )

    asyncio.run(work())


class ProcrastinateScheduler:
    """Billing's :class:`~starform_apps.starbase.billing.scheduler.JobScheduler` on the queue.

    Opens the App's synchronous connection pool on first use; :meth:`close` closes it.
    """

    def __init__(self, app: procrastinate.App) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._opened = False

    def _open(self) -> procrastinate.App:
        with self._lock:
            if not self._opened:
                self._app.open()
                self._opened = True
        return self._app

    def close(self) -> None:
        """Close the pool if it was opened."""
        with self._lock:
            if self._opened:
                self._app.close()
                self._opened = False

    def close_workspace_month(self, workspace_id: str, month: BillingMonth) -> None:
        """Queue one workspace's close (a second one queued meanwhile is a no-op)."""
        self._defer(
            "billing:close_workspace_month",
            f"close:{workspace_id}:{month}",
            None,
            workspace_id=workspace_id,
            month=str(month),
        )

    def collect_payment(self, invoice_id: str, attempt: int, *, at: dt.datetime) -> None:
        """Queue a payment attempt for ``at`` (one pending attempt per invoice)."""
        self._defer(
            "billing:collect_payment", f"collect:{invoice_id}", at, invoice_id=invoice_id, attempt=attempt
        )

    def _defer(self, task: str, lock: str, at: dt.datetime | None, **kwargs: Any) -> None:
        deferrer = self._open().configure_task(name=task, queueing_lock=lock, schedule_at=at)
        try:
            deferrer.defer(**kwargs)
        except job_errors.AlreadyEnqueued:
            return
