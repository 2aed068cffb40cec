"""Held long-polls waiting for their cluster to change: one ``asyncio.Event`` per waited cluster.

A waiter takes a :meth:`Wakeups.ticket` *before* it reads the cluster's state, then waits on it:
a change notified in between sets that ticket, so no wake-up is ever lost. Setting a cluster's
event wakes every request held on it and retires the event (the next ticket is a fresh one), so
a thousand held polls cost a thousand suspended coroutines, no threads.
"""

from __future__ import annotations

import asyncio

__all__ = ["Wakeups"]


class Wakeups:
    """Per-cluster events on one event loop; :meth:`drain` may be called from any thread."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.draining = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop the waiters run on (for :meth:`drain` from other threads)."""
        self._loop = loop

    def ticket(self, cluster_id: str) -> asyncio.Event:
        """The event the next change of ``cluster_id`` (or a wake-all) sets."""
        event = self._events.get(cluster_id)
        if event is None:
            event = self._events[cluster_id] = asyncio.Event()
        return event

    @staticmethod
    async def wait(ticket: asyncio.Event, timeout: float, *, unless: asyncio.Future[None]) -> bool:
        """Wait until the ticket is set (``True``), ``timeout`` seconds pass or ``unless`` is done."""
        woken = asyncio.ensure_future(ticket.wait())
        try:
            await asyncio.wait((woken, unless), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        return ticket.is_set()

    def wake(self, cluster_id: str) -> None:
        """Wake every request held on ``cluster_id``."""
        event = self._events.pop(cluster_id, None)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        """Wake every held request (they re-check their cluster)."""
        events, self._events = self._events, {}
        for event in events.values():
            event.set()

    def drain(self) -> None:
        """Stop holding: answer every held request now and hold no new ones (thread-safe).

        Waiters check :attr:`draining` before they wait; the flag is set before the wake-all is
        scheduled, so a request either sees it or holds a ticket the wake-all sets.
        """
        self.draining = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.wake_all)
