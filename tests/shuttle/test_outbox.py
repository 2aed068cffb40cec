"""The outbox in the state database: durable, ordered, bounded with counted drops, intents."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter

from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, ReportKind, event_report, status_report
from starform_apps.shuttle.statedb import StateDB
from starform_core.errors import AgentStateError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _dropped() -> Counter:
    return Counter("dropped", "test", ["kind"], registry=CollectorRegistry())


def _outbox(directory: Path, *, capacity: int = 1000, dropped: Counter | None = None) -> Outbox:
    return Outbox(StateDB(directory), capacity=capacity, dropped=dropped, now=lambda: NOW)


def test_events_wait_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path)
    events = [event_report(EventType.APPLIED, now=NOW, message=str(n)) for n in range(5)]
    outbox.add(*events)
    reopened = _outbox(tmp_path)  # a second process on the same directory (as after SIGKILL)
    queued = reopened.peek(ReportKind.EVENT, limit=10)
    assert [q.report_id for q in queued] == [e.report_id for e in events]
    assert queued[0].body == dict(events[0].body)
    reopened.remove([events[0].report_id, events[1].report_id])
    assert [q.report_id for q in _outbox(tmp_path).peek(ReportKind.EVENT, limit=10)] == [
        e.report_id for e in events[2:]
    ]
    assert reopened.depth() == {"event": 3, "status": 0, "drift": 0, "usage": 0}


def test_an_intent_is_not_sendable_until_settled_and_keeps_its_id(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path)
    intent = event_report(EventType.APPLIED, now=NOW, message="create x")
    outbox.open_intent(intent)
    assert outbox.peek(ReportKind.EVENT, limit=10) == []
    assert [q.report_id for q in _outbox(tmp_path).intents()] == [intent.report_id], "durable"
    failure = event_report(EventType.RECONCILE_FAILED, now=NOW, message="HTTP 500", event_id=intent.report_id)
    outbox.settle(intent.report_id, failure)
    assert outbox.intents() == []
    (queued,) = outbox.peek(ReportKind.EVENT, limit=10)
    assert (queued.report_id, queued.body["type"]) == (intent.report_id, "ReconcileFailed")


def test_a_status_report_replaces_the_unsent_one(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path)
    reports = [
        status_report(now=NOW, epoch=1, applied_generation=g, attempt=None, services=[]) for g in (1, 2, 3)
    ]
    for report in reports:
        outbox.add(report)
    (queued,) = outbox.peek(ReportKind.STATUS, limit=10)
    assert queued.report_id == reports[-1].report_id
    assert queued.body["applied_generation"] == 3
    assert outbox.depth()["status"] == 1


def test_a_full_outbox_drops_the_oldest_events_and_counts_them_in_one_event(tmp_path: Path) -> None:
    dropped = _dropped()
    outbox = _outbox(tmp_path, capacity=10, dropped=dropped)
    events = [event_report(EventType.APPLIED, now=NOW, message=str(n)) for n in range(15)]
    for event in events:
        outbox.add(event)
    queued = outbox.peek(ReportKind.EVENT, limit=100)
    assert len(queued) == 10, "bounded"
    marker = [q for q in queued if q.body["type"] == "ReportsDropped"]
    assert len(marker) == 1
    assert marker[0].body["data"]["dropped"] == 6, "5 over capacity, plus one to make room for the marker"
    assert marker[0].body["reason"] == "outbox-full"
    kept = [q.report_id for q in queued if q.body["type"] == "Applied"]
    assert kept == [e.report_id for e in events[6:]], "the newest are kept, in order"
    assert dropped.labels(kind="event")._value.get() == 6
    outbox.remove([marker[0].report_id])  # the marker was sent: a later overflow starts a new one
    for n in range(3):
        outbox.add(event_report(EventType.APPLIED, now=NOW, message=f"more {n}"))
    markers = [q for q in outbox.peek(ReportKind.EVENT, limit=100) if q.body["type"] == "ReportsDropped"]
    assert [m.body["data"]["dropped"] for m in markers] == [3]


def test_intents_and_status_reports_are_never_dropped(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path, capacity=10)
    intents = [event_report(EventType.APPLIED, now=NOW, message=f"i{n}") for n in range(4)]
    for intent in intents:
        outbox.open_intent(intent)
    outbox.add(status_report(now=NOW, epoch=1, applied_generation=1, attempt=None, services=[]))
    for n in range(20):
        outbox.add(event_report(EventType.APPLIED, now=NOW, message=str(n)))
    assert [q.report_id for q in outbox.intents()] == [i.report_id for i in intents]
    assert len(outbox.peek(ReportKind.STATUS, limit=5)) == 1


def test_the_database_is_private_to_its_owner(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path / "state")
    outbox.add(event_report(EventType.APPLIED, now=NOW))
    for name in ("state.db", "state.db-wal"):
        mode = stat.S_IMODE(os.stat(tmp_path / "state" / name).st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700


def test_a_damaged_database_is_moved_aside_and_a_fresh_one_started(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is not an SQLite database, it is garbage" * 100)
    outbox = _outbox(tmp_path)
    assert outbox.depth() == {"event": 0, "status": 0, "drift": 0, "usage": 0}
    assert [p.name for p in tmp_path.glob("state.db.corrupt-*")], "the damaged file is kept for a post-mortem"


def test_an_unusable_state_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AgentStateError, match="state directory"):
        StateDB(blocker / "state")


def test_oldest_age_follows_the_oldest_waiting_report(tmp_path: Path) -> None:
    outbox = _outbox(tmp_path)
    assert outbox.oldest_age() == 0.0
    outbox.add(event_report(EventType.APPLIED, now=NOW))
    assert 0.0 <= outbox.oldest_age() < 60.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.just("add"), st.just("send"), st.just("status")), min_size=1, max_size=60))
def test_whatever_happens_nothing_is_lost_silently(
    tmp_path_factory: pytest.TempPathFactory, steps: list[str]
) -> None:
    """Every event added is either still waiting, delivered, or counted in a ReportsDropped event."""
    outbox = _outbox(tmp_path_factory.mktemp("outbox"), capacity=12)
    added: list[str] = []
    delivered: set[str] = set()
    reported_drops = 0
    for step in steps:
        if step == "add":
            event = event_report(EventType.APPLIED, now=NOW, message=str(len(added)))
            outbox.add(event)
            added.append(event.report_id)
        elif step == "status":
            outbox.add(status_report(now=NOW, epoch=1, applied_generation=1, attempt=None, services=[]))
        else:
            batch = outbox.peek(ReportKind.EVENT, limit=5)
            delivered |= {q.report_id for q in batch}
            reported_drops += sum(
                q.body["data"]["dropped"] for q in batch if q.body["type"] == "ReportsDropped"
            )
            outbox.remove(q.report_id for q in batch)
    waiting = outbox.peek(ReportKind.EVENT, limit=1000)
    assert sum(outbox.depth().values()) <= 12 + 1, "bounded (plus the drop counter)"
    assert len(outbox.peek(ReportKind.STATUS, limit=10)) <= 1
    counted = sum(q.body["data"]["dropped"] for q in waiting if q.body["type"] == "ReportsDropped")
    kept = {q.report_id for q in waiting} | delivered
    lost = [i for i in added if i not in kept]
    assert len(lost) == counted + reported_drops, "every drop is counted in a ReportsDropped event"
    order = [q.report_id for q in waiting if q.report_id in added]
    assert order == [i for i in added if i in order], "oldest first"
