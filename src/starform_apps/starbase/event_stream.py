"""Live event streams over Server-Sent Events: a service's events as they are stored.

``GET /v1/services/{id}/events/stream`` (:mod:`~starform_apps.starbase.routes_observed`) answers
``text/event-stream``: one frame per stored event, its ``id:`` the event's ``seq``, so a client
that reconnects with ``Last-Event-ID`` (browsers do it on their own) resumes after the last event
it saw, losing none and repeating none. Between events a comment line is sent every
``heartbeat_seconds`` (proxies keep the connection; the client notices a dead one).

Every connection is bounded: at most ``per_user`` streams per user and ``total`` per process
(``429``/``503`` beyond, with ``Retry-After``), at most ``page`` events read per poll, and a stream
ends after ``max_seconds`` (the client reconnects and resumes). :meth:`EventStreams.close` (called
when the server stops) ends every stream within one poll with an ``event: shutdown`` frame, so a
stopping Starbase never waits on its streams.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import attrs
import structlog
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from starform_apps.starbase.convert import event_out
from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.metrics import Metrics
from starform_core.errors import StoreError
from starform_core.records import EventRecord, EventsPage

__all__ = ["EventStreamResponse", "EventStreams", "StreamLimits", "StreamTicket", "sse_frame"]

_log = structlog.get_logger("starbase.event_stream")

ReadPage = Callable[[int, int], EventsPage]
"""Reads the events after a ``seq`` cursor, at most ``limit`` of them."""


@attrs.frozen(kw_only=True)
class StreamLimits:
    """The bounds of the live streams of one Starbase process."""

    per_user: int = 8
    total: int = 200
    page: int = 100
    poll_seconds: float = 0.5
    heartbeat_seconds: float = 15.0
    max_seconds: float = 900.0
    retry_ms: int = 2000


@attrs.define
class StreamTicket:
    """One open stream's place in the counts; :meth:`release` gives it back (once)."""

    _streams: EventStreams
    user_id: str
    _released: bool = False

    def release(self) -> None:
        """Give the place back; a second call does nothing."""
        if not self._released:
            self._released = True
            self._streams.released(self.user_id)


class EventStreams:
    """The live streams of one Starbase process: counted, bounded, ended on shutdown."""

    def __init__(self, metrics: Metrics, *, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self._metrics = metrics
        self._lock = threading.Lock()
        self._open: Counter[str] = Counter()
        self._closing = threading.Event()

    @property
    def closing(self) -> bool:
        """Whether the server is stopping (no new streams; open ones end)."""
        return self._closing.is_set()

    def open(self, user_id: str) -> StreamTicket:
        """A place for one more stream of ``user_id`` (``429``/``503`` when over a bound)."""
        with self._lock:
            if self._closing.is_set():
                reason, error = "shutdown", HttpError(503, "Starbase is shutting down")
            elif self._open[user_id] >= self.limits.per_user:
                reason = "per_user"
                error = HttpError(
                    429,
                    f"at most {self.limits.per_user} event streams per user are open at once",
                    headers={"Retry-After": "5"},
                )
            elif sum(self._open.values()) >= self.limits.total:
                reason = "total"
                error = HttpError(
                    503, "too many event streams are open on this Starbase", headers={"Retry-After": "5"}
                )
            else:
                self._open[user_id] += 1
                self._metrics.event_streams_open.inc()
                return StreamTicket(self, user_id)
        self._metrics.event_streams_refused.labels(reason=reason).inc()
        _log.warning("event stream refused", reason=reason)
        raise error

    def released(self, user_id: str) -> None:
        """A stream of ``user_id`` ended (called by its ticket)."""
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]
            self._metrics.event_streams_open.dec()

    def open_count(self) -> int:
        """How many streams are open now."""
        with self._lock:
            return sum(self._open.values())

    def close(self) -> None:
        """End every stream (within one poll) and refuse new ones: the server is stopping."""
        self._closing.set()

    def body(self, read_page: ReadPage, *, after: int) -> AsyncIterator[str]:
        """The frames of one stream, starting after the ``seq`` cursor ``after``."""
        return _frames(self, read_page, after)


def sse_frame(data: Any, *, event_id: int | None = None, event: str | None = None) -> str:
    """One Server-Sent Events frame carrying ``data`` as one line of JSON."""
    head = "" if event_id is None else f"id: {event_id}\n"
    head += "" if event is None else f"event: {event}\n"
    return f"{head}data: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


async def _frames(streams: EventStreams, read_page: ReadPage, cursor: int) -> AsyncIterator[str]:
    limits = streams.limits
    yield f"retry: {limits.retry_ms}\n\n"
    started = last_sent = time.monotonic()
    while not streams.closing:
        try:
            page = await anyio.to_thread.run_sync(read_page, cursor, limits.page)
        except StoreError as exc:
            _log.warning("event stream ended: the store is unavailable", error=type(exc).__name__)
            yield sse_frame({"reason": "the event store is unavailable"}, event="unavailable")
            return
        for record in page.events:
            yield sse_frame(_event_data(record), event_id=record.seq)
            cursor = record.seq
            last_sent = time.monotonic()
        if page.next_after is not None:
            continue
        now = time.monotonic()
        if now - started >= limits.max_seconds:
            return
        if now - last_sent >= limits.heartbeat_seconds:
            yield ": heartbeat\n\n"
            last_sent = now
        await anyio.sleep(limits.poll_seconds)
    yield sse_frame({"reason": "Starbase is shutting down"}, event="shutdown")


def _event_data(record: EventRecord) -> dict[str, Any]:
    """The same body as one event of ``GET /v1/services/{id}/events``."""
    return event_out(record).model_dump(mode="json")


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` answer that gives its :class:`StreamTicket` back however it ends."""

    def __init__(self, content: AsyncIterator[str], ticket: StreamTicket) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self._ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.release()
