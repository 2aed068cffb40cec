"""Where cluster change notifications land: the agent-view cache, the held long-polls, metrics.

:class:`ChangeHub` is the :class:`~starform_core.ports.notifications.ChangeSink` of one Starbase
app; :func:`follow_changes` is the app's lifespan task that runs the feed (one listener
connection per process, so each ``--workers`` process has its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from starform_apps.starbase.agent_views import AgentViews
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.wakeups import Wakeups
from starform_core.ports.notifications import ClusterChanges

__all__ = ["ChangeHub", "follow_changes"]

_log = structlog.get_logger("starbase.notifications")


class ChangeHub:
    """Fans each notification out to the caches and the requests held on its cluster."""

    def __init__(self, views: AgentViews, wakeups: Wakeups, metrics: Metrics) -> None:
        self._views = views
        self._wakeups = wakeups
        self._metrics = metrics
        self.stopping = False

    def changed(self, cluster_id: str) -> None:
        """One cluster changed: drop its cached view and wake its held requests."""
        self._metrics.notifications.inc()
        self._views.changed(cluster_id)
        self._wakeups.wake(cluster_id)

    def resynced(self) -> None:
        """Listening: trust caches from now on; wake everyone, since changes may have been missed."""
        self._views.reset(live=True)
        self._metrics.listener_connected.set(1)
        self._wakeups.wake_all()
        _log.info("listening for cluster changes")

    def lost(self) -> None:
        """Not listening: stop trusting caches until :meth:`resynced`."""
        self._views.reset(live=False)
        self._metrics.listener_connected.set(0)
        if self.stopping:
            return
        self._metrics.listener_disconnects.inc()
        _log.warning("not listening for cluster changes; reading PostgreSQL until reconnected")


def _ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("the change listener stopped", error=repr(task.exception()))


@asynccontextmanager
async def follow_changes(
    changes: ClusterChanges | None, hub: ChangeHub, wakeups: Wakeups
) -> AsyncIterator[None]:
    """Run the change feed for the app's lifetime (none: caches stay untrusted, polls re-read)."""
    wakeups.bind(asyncio.get_running_loop())
    if changes is None:
        yield
        return
    task = asyncio.create_task(changes.follow(hub), name="starbase-change-listener")
    task.add_done_callback(_ended)
    try:
        yield
    finally:
        hub.stopping = True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
