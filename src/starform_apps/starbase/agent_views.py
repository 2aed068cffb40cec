"""The per-process cache of what answering an agent needs: version, token hash, pending requests.

Trusted only while this process listens for cluster changes (``live``): every notification drops
its cluster's entry, a reconnect drops them all. A read that raced a notification is returned but
not kept (per-cluster and global change stamps, checked after the read), so a cached entry is
never older than the last notification. While not live every call reads PostgreSQL (one indexed
read, in a worker thread), as before notifications existed.
"""

from __future__ import annotations

from anyio import to_thread

from starform_apps.starbase.single_flight import SingleFlight
from starform_core.ports import AgentStore
from starform_core.records import AgentView

__all__ = ["AgentViews"]


class AgentViews:
    """:class:`~starform_core.records.AgentView` per cluster, kept fresh by notifications.

    Used from the event loop only (the read itself runs in a worker thread).
    """

    def __init__(self, store: AgentStore) -> None:
        self._store = store
        self._views: dict[str, AgentView] = {}
        self._stamps: dict[str, int] = {}
        self._resets = 0
        self._flights: SingleFlight[AgentView] = SingleFlight()
        self.live = False
        self.reads = 0

    def cached(self, cluster_id: str) -> AgentView | None:
        """The cached view, if this process may trust it."""
        return self._views.get(cluster_id) if self.live else None

    async def get(self, cluster_id: str) -> AgentView:
        """The cluster's view: from memory when trusted, else one read (``StoreNotFoundError``)."""
        view = self.cached(cluster_id)
        if view is not None:
            return view
        stamp, resets = self._stamps.get(cluster_id, 0), self._resets

        async def load() -> AgentView:
            self.reads += 1
            view = await to_thread.run_sync(self._store.agent_view, cluster_id)
            if self.live and stamp == self._stamps.get(cluster_id, 0) and resets == self._resets:
                self._views[cluster_id] = view
            return view

        # Only reads begun after the same notifications are shared: a later caller never gets
        # a read that started before a change it was told about.
        return await self._flights.run((cluster_id, stamp, resets), load)

    def changed(self, cluster_id: str) -> None:
        """A notification: forget the cluster's entry (and any read in flight)."""
        self._stamps[cluster_id] = self._stamps.get(cluster_id, 0) + 1
        self._views.pop(cluster_id, None)

    def forget_all(self) -> None:
        """Forget every entry, and any read in flight (a write of this process may touch any)."""
        self._resets += 1
        self._views.clear()

    def reset(self, *, live: bool) -> None:
        """Forget everything (listening again, or not any more)."""
        self._resets += 1
        self._views.clear()
        self._stamps.clear()
        self.live = live
