"""Events Shuttle reports to Starbase: buffered, batched, retried until Starbase has them."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starform_core.errors import DesiredStateSourceError
from starform_core.ports.source import DesiredStateSource

__all__ = ["EventBuffer"]


class EventBuffer:
    """A bounded queue of events; :meth:`flush` sends them in batches and keeps what failed.

    Each event gets a fresh ``event_id`` when it is recorded, so a batch re-sent after a lost
    answer is stored once (Starbase ignores ids it already has).
    """

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        batch_size: int = 500,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._queue: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._batch = batch_size
        self._now = now
        self._lock = threading.Lock()
        self.dropped = 0

    def record(
        self,
        type_: str,
        *,
        reason: str = "",
        message: str = "",
        service_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """Queue one event; returns its id. Callers never put secret values in ``data``."""
        event_id = str(uuid.uuid4())
        event: dict[str, Any] = {
            "event_id": event_id,
            "type": type_,
            "reason": reason,
            "message": message[:4000],
            "service_id": service_id,
            "data": dict(data or {}),
            "occurred_at": self._now().isoformat(),
        }
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(event)
        return event_id

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def pending(self) -> list[dict[str, Any]]:
        """A copy of the queued events, oldest first."""
        with self._lock:
            return list(self._queue)

    def flush(self, source: DesiredStateSource) -> int:
        """Send queued events in batches; returns how many were delivered (the rest stay queued)."""
        sent = 0
        while True:
            with self._lock:
                batch = list(itertools.islice(self._queue, self._batch))
            if not batch:
                return sent
            try:
                source.report_events(batch)
            except DesiredStateSourceError:
                return sent
            with self._lock:
                for event in batch:
                    if self._queue and self._queue[0] is event:
                        self._queue.popleft()
            sent += len(batch)
