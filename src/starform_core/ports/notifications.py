"""Cluster change notifications: the wake-up channel behind held desired-state long-polls.

An adapter (PostgreSQL ``LISTEN``) follows every committed change an agent must see (a new
generation or epoch, a reconcile request made or served) and tells a :class:`ChangeSink`. While
it is disconnected notifications may be lost: it says so (``lost``), and after reconnecting
(``resynced``) everything must be treated as possibly changed.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ChangeSink", "ClusterChanges"]


class ChangeSink(Protocol):
    """Who hears about changes (called on the event loop that runs :meth:`ClusterChanges.follow`)."""

    def changed(self, cluster_id: str) -> None:
        """Something the cluster's agent must see was committed."""
        ...

    def resynced(self) -> None:
        """Listening (again): any cluster may have changed while nobody listened."""
        ...

    def lost(self) -> None:
        """Not listening any more: changes may go unheard until :meth:`resynced`."""
        ...


class ClusterChanges(Protocol):
    """A feed of cluster changes."""

    async def follow(self, sink: ChangeSink) -> None:
        """Tell ``sink`` about changes until cancelled (reconnecting on its own after failures)."""
        ...
