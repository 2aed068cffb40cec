"""An in-memory desired-state source: the test double of the source port.

Serves canonical payload bytes with ETag semantics, records status reports and events, and can
be switched "down" to simulate an unreachable Starbase.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from starform_core.errors import DesiredStateSourceError
from starform_core.payload import DesiredState, etag_of, to_json
from starform_core.ports.source import Fetched, NotModified

__all__ = ["InMemorySource"]


class InMemorySource:
    """Implements :class:`~starform_core.ports.source.DesiredStateSource` in memory."""

    def __init__(self, document: DesiredState | None = None) -> None:
        self._lock = threading.Lock()
        self._body: bytes | None = None
        self.down = False
        self.fetches = 0
        self.not_modified = 0
        self.statuses: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, Any]] = {}
        if document is not None:
            self.publish(document)

    def publish(self, document: DesiredState) -> None:
        """Serve ``document`` from now on."""
        self.publish_bytes(to_json(document))

    def publish_bytes(self, body: bytes) -> None:
        """Serve raw bytes (to test invalid payloads)."""
        with self._lock:
            self._body = body

    def fetch(self, *, etag: str | None) -> Fetched | NotModified:
        """The current payload, or ``NotModified`` when ``etag`` matches."""
        with self._lock:
            self.fetches += 1
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            if self._body is None:
                raise DesiredStateSourceError("no desired state published yet")
            current = etag_of(self._body)
            if etag == current:
                self.not_modified += 1
                return NotModified(etag=current)
            return Fetched(body=self._body, etag=current)

    def report_status(self, *, applied_generation: int | None, services: Sequence[Mapping[str, Any]]) -> None:
        """Record a status report."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            self.statuses.append({"applied_generation": applied_generation, "services": list(services)})

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Record events, once per ``event_id``."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            for event in events:
                self.events.setdefault(str(event["event_id"]), dict(event))

    def event_types(self) -> list[str]:
        """The types of the events received, in arrival order."""
        with self._lock:
            return [e["type"] for e in self.events.values()]
