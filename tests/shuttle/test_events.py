"""EventBuffer: batching, retry of what was not delivered, stable ids, bounded capacity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle.events import EventBuffer
from starform_core.errors import DesiredStateSourceError
from starform_core.ports.source import Fetched, NotModified

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FlakySink:
    """A desired-state source that receives event batches; it can fail, before or after storing."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_batches: set[int] = set()
        self.lose_answers: set[int] = set()
        self.attempts = 0

    def fetch(self, *, etag: str | None) -> Fetched | NotModified:
        raise AssertionError("not used")

    def report_status(self, *, applied_generation: int | None, services: Sequence[Mapping[str, Any]]) -> None:
        raise AssertionError("not used")

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        attempt = self.attempts
        self.attempts += 1
        if attempt in self.fail_batches:
            raise DesiredStateSourceError("event report: HTTP 503")
        self.batches.append([dict(e) for e in events])
        if attempt in self.lose_answers:
            raise DesiredStateSourceError("event report: ReadTimeout")

    def ids(self) -> list[str]:
        return [e["event_id"] for batch in self.batches for e in batch]


def _buffer(**kwargs: Any) -> EventBuffer:
    return EventBuffer(now=lambda: NOW, **kwargs)


def test_record_builds_a_complete_event_with_a_fresh_id() -> None:
    events = _buffer()
    first = events.record(
        "Applied", reason="missing", message="create Deployment ns/web", service_id="s-1", data={"n": 1}
    )
    second = events.record("Applied")
    assert first != second
    assert events.pending() == [
        {
            "event_id": first,
            "type": "Applied",
            "reason": "missing",
            "message": "create Deployment ns/web",
            "service_id": "s-1",
            "data": {"n": 1},
            "occurred_at": "2026-03-01T12:00:00+00:00",
        },
        {
            "event_id": second,
            "type": "Applied",
            "reason": "",
            "message": "",
            "service_id": None,
            "data": {},
            "occurred_at": "2026-03-01T12:00:00+00:00",
        },
    ]


def test_long_messages_are_truncated() -> None:
    events = _buffer()
    events.record("ReconcileFailed", message="x" * 10_000)
    assert len(events.pending()[0]["message"]) == 4000


def test_flush_sends_in_batches_in_order_and_empties_the_buffer() -> None:
    events = _buffer(batch_size=3)
    ids = [events.record("Applied", message=str(i)) for i in range(7)]
    sink = FlakySink()
    assert events.flush(sink) == 7
    assert [len(batch) for batch in sink.batches] == [3, 3, 1]
    assert sink.ids() == ids
    assert len(events) == 0
    assert events.flush(sink) == 0
    assert sink.attempts == 3, "an empty buffer sends nothing"


def test_a_failed_batch_stays_queued_and_the_retry_sends_the_same_ids() -> None:
    events = _buffer(batch_size=3)
    ids = [events.record("Applied", message=str(i)) for i in range(7)]
    sink = FlakySink()
    sink.fail_batches = {1}
    assert events.flush(sink) == 3
    assert [e["event_id"] for e in events.pending()] == ids[3:]
    events.record("Pruned")  # recorded while Starbase was down: queued behind the others
    assert events.flush(sink) == 5
    assert sink.ids()[:7] == ids
    assert [e["type"] for e in sink.batches[-1]][-1] == "Pruned"
    assert len(events) == 0


def test_a_batch_resent_after_a_lost_answer_is_stored_once() -> None:
    events = _buffer(batch_size=2)
    ids = [events.record("DriftReverted", message=str(i)) for i in range(4)]
    source = InMemorySource()
    sink = FlakySink()
    sink.lose_answers = {0}
    assert events.flush(sink) == 0, "the answer was lost: the batch stays queued"
    assert events.flush(sink) == 4
    assert sink.ids() == [ids[0], ids[1], ids[0], ids[1], ids[2], ids[3]], "re-sent with the same ids"
    for batch in sink.batches:
        source.report_events(batch)
    assert sorted(source.events) == sorted(ids)


def test_capacity_drops_the_oldest_and_counts_the_drops() -> None:
    events = _buffer(capacity=3)
    ids = [events.record("Applied", message=str(i)) for i in range(5)]
    assert events.dropped == 2
    assert len(events) == 3
    assert [e["event_id"] for e in events.pending()] == ids[2:]
    sink = FlakySink()
    assert events.flush(sink) == 3
    assert sink.ids() == ids[2:]


def test_pending_is_a_copy() -> None:
    events = _buffer()
    events.record("Applied")
    events.pending().clear()
    assert len(events) == 1
