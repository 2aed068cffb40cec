"""The sender: batches, re-sends after a lost answer (stored once), refusals dropped and counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, ReportKind, event_report, status_report
from starform_apps.shuttle.sender import BATCH_SIZE, ReportSender
from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.payload import example_payload

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class PoisonSink:
    """Refuses (422) any batch holding a poisoned event, as Starbase refuses a bad body whole."""

    def __init__(self, poisoned: set[str]) -> None:
        self.poisoned = poisoned
        self.stored: dict[str, Mapping[str, Any]] = {}
        self.requests = 0

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        self.requests += 1
        if any(e["event_id"] in self.poisoned for e in events):
            raise ReportRefusedError("event report: HTTP 422 service of another cluster", status=422)
        new = [e for e in events if e["event_id"] not in self.stored]
        self.stored.update({e["event_id"]: e for e in events})
        return len(new)

    def report_status(self, report: Mapping[str, Any]) -> None:
        raise DesiredStateSourceError("status report: HTTP 503")


def _parts(tmp_path: Path) -> tuple[Outbox, ShuttleMetrics]:
    metrics = ShuttleMetrics()
    return Outbox(StateDB(tmp_path), now=lambda: NOW), metrics


def test_events_go_in_batches_oldest_first_and_leave_the_outbox(tmp_path: Path) -> None:
    outbox, metrics = _parts(tmp_path)
    events = [event_report(EventType.APPLIED, now=NOW, message=str(n)) for n in range(BATCH_SIZE + 7)]
    outbox.add(*events)
    sink = InMemorySource(example_payload())
    sent = ReportSender(outbox, sink, metrics).drain()
    assert (sent.sent, sent.refused, sent.error) == (len(events), 0, "")
    assert list(sink.events) == [e.report_id for e in events]
    assert outbox.depth() == {"event": 0, "status": 0, "drift": 0, "usage": 0}
    assert metrics.registry.get_sample_value("shuttle_reports_sent_total", {"kind": "event"}) == len(events)


def test_a_lost_answer_keeps_the_batch_and_the_resend_is_stored_once(tmp_path: Path) -> None:
    outbox, metrics = _parts(tmp_path)
    events = [event_report(EventType.DRIFT_REVERTED, now=NOW, message=str(n)) for n in range(3)]
    outbox.add(*events)
    sink = InMemorySource(example_payload())
    sink.lose_answers = 1
    sender = ReportSender(outbox, sink, metrics)
    first = sender.drain()
    assert first.error and first.sent == 0
    assert outbox.depth()["event"] == 3, "not acknowledged: still waiting"
    assert len(sink.events) == 3, "Starbase stored them before the answer was lost"
    second = sender.drain()
    assert second.sent == 3
    assert sink.duplicates == 3 and sender.duplicates == 3
    assert sorted(sink.events) == sorted(e.report_id for e in events)


def test_a_refused_event_is_isolated_dropped_and_counted_the_others_go(tmp_path: Path) -> None:
    outbox, metrics = _parts(tmp_path)
    events = [event_report(EventType.APPLIED, now=NOW, message=str(n)) for n in range(40)]
    outbox.add(*events)
    poisoned = {events[17].report_id}
    sink = PoisonSink(poisoned)
    sent = ReportSender(outbox, sink, metrics).drain()
    assert (sent.sent, sent.refused) == (39, 1)
    assert set(sink.stored) == {e.report_id for e in events} - poisoned
    assert outbox.peek(ReportKind.EVENT, limit=100) == []
    assert sink.requests <= 2 * 6 + 1, "bisection, not one request per event"
    assert (
        metrics.registry.get_sample_value(
            "shuttle_reports_refused_total", {"kind": "event", "reason": "http-422"}
        )
        == 1
    )


def test_an_unreachable_starbase_keeps_everything_for_later(tmp_path: Path) -> None:
    outbox, metrics = _parts(tmp_path)
    outbox.add(event_report(EventType.PRUNED, now=NOW))
    outbox.add(status_report(now=NOW, epoch=1, applied_generation=1, attempt=None, services=[]))
    sink = InMemorySource(example_payload())
    sink.down = True
    sent = ReportSender(outbox, sink, metrics).drain()
    assert sent.error and sent.sent == 0
    assert outbox.depth() == {"event": 1, "status": 1, "drift": 0, "usage": 0}


def test_a_refused_status_report_is_dropped_counted_and_named(tmp_path: Path) -> None:
    outbox, metrics = _parts(tmp_path)
    document = example_payload()
    ahead = status_report(
        now=NOW,
        epoch=document.epoch,
        applied_generation=document.generation + 1000,
        attempt=None,
        services=[],
    )
    outbox.add(ahead)
    sink = InMemorySource(document)
    sent = ReportSender(outbox, sink, metrics).drain()
    assert (sent.sent, sent.refused) == (0, 1)
    assert outbox.depth()["status"] == 0
    assert [r["reason"] for r in sink.refused] == ["generation-ahead"]
    assert (
        metrics.registry.get_sample_value(
            "shuttle_reports_refused_total", {"kind": "status", "reason": "generation-ahead"}
        )
        == 1
    )
