"""The outbox: every report Shuttle makes, on disk before it counts as made, until Starbase has it.

Reports wait in the state database (:class:`~starform_apps.shuttle.statedb.StateDB`) and are
sent at least once, oldest first; Starbase de-duplicates by id, so a report re-sent after a lost
answer or a crash is stored once. The queue is bounded (``capacity`` reports): beyond it the
oldest events are dropped and one pinned ``ReportsDropped`` event counts them (the newest
events describe the cluster as it is; an old drift revert is most likely superseded). A status
report replaces the unsent one before it, taking over the reconcile requests it said were served
(``served_reconcile_requests``), so a served request is reported even across a restart.

An *intent* is the event of an action written before the action is sent: it is not sendable
until the action's outcome settles it (into its success or failure event, same id). Intents
left by a crash are settled after the restart, from what the cluster then shows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
from prometheus_client import Counter

from starform_apps.shuttle.reports import (
    POLICIES,
    EventType,
    Overflow,
    Report,
    ReportKind,
    event_report,
    served_requests_of,
    with_served_requests,
)
from starform_apps.shuttle.statedb import StateDB

__all__ = ["DEFAULT_CAPACITY", "Outbox", "Queued"]

_log = logging.getLogger("starform.shuttle.outbox")

DEFAULT_CAPACITY = 50_000
"""Reports kept at most (about 25 MB of events)."""


@attrs.frozen
class Queued:
    """A report waiting in the outbox (``seq`` orders the queue)."""

    seq: int
    kind: ReportKind
    report_id: str
    body: Mapping[str, Any]


def _queued(row: tuple[Any, ...]) -> Queued:
    return Queued(seq=int(row[0]), kind=ReportKind(row[1]), report_id=str(row[2]), body=json.loads(row[3]))


class Outbox:
    """A bounded, durable, at-least-once queue of typed reports."""

    def __init__(
        self,
        db: StateDB,
        *,
        capacity: int = DEFAULT_CAPACITY,
        dropped: Counter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if capacity < 10:
            raise ValueError("the outbox capacity must be at least 10 reports")
        self._db = db
        self._capacity = capacity
        self._dropped = dropped
        self._now = now
        self._size = int(db.query("SELECT count(*) FROM outbox")[0][0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction of the state database to :meth:`insert` reports in, with other writes."""
        with self._tx() as conn:
            yield conn

    def insert(self, conn: sqlite3.Connection, report: Report) -> None:
        """Queue a ready report inside :meth:`transaction`."""
        self._insert(conn, report, state="ready")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A transaction; if it rolls back, the size kept in memory is read again."""
        try:
            with self._db.transaction() as conn:
                yield conn
        except BaseException:
            self._size = int(self._db.query("SELECT count(*) FROM outbox")[0][0])
            raise

    # writing -------------------------------------------------------------------------------
    def add(self, *reports: Report) -> None:
        """Queue ready reports, in one transaction (on disk when this returns)."""
        with self._tx() as conn:
            for report in reports:
                self._insert(conn, report, state="ready")

    def open_intent(self, report: Report) -> None:
        """Queue the event an action will produce, before the action is sent (not sendable yet)."""
        with self._tx() as conn:
            self._insert(conn, report, state="intent")

    def settle(self, report_id: str, final: Report) -> None:
        """Turn an intent into the ready report ``final`` (same id: what the action produced)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'ready', kind = ?, body = ? WHERE id = ?",
                (final.kind.value, json.dumps(dict(final.body)), report_id),
            )

    def _insert(self, conn: sqlite3.Connection, report: Report, *, state: str, pinned: bool = False) -> None:
        if POLICIES[report.kind] is Overflow.LATEST_ONLY:
            report = self._taking_over(conn, report)
            replaced = conn.execute(
                "DELETE FROM outbox WHERE kind = ? AND state = 'ready'", (report.kind.value,)
            )
            self._size -= replaced.rowcount
        inserted = conn.execute(
            "INSERT OR IGNORE INTO outbox (id, kind, state, pinned, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                report.report_id,
                report.kind.value,
                state,
                int(pinned),
                json.dumps(dict(report.body)),
                time.time(),
            ),
        )
        self._size += inserted.rowcount
        self._bound(conn)

    @staticmethod
    def _taking_over(conn: sqlite3.Connection, report: Report) -> Report:
        """``report`` naming the served reconcile requests of the unsent report it replaces."""
        served: list[str] = []
        for (body,) in conn.execute(
            "SELECT body FROM outbox WHERE kind = ? AND state = 'ready' ORDER BY seq", (report.kind.value,)
        ):
            served.extend(served_requests_of(json.loads(body)))
        if not served:
            return report
        served.extend(served_requests_of(report.body))  # the older first: the newest are kept
        bare = {key: value for key, value in report.body.items() if key != "served_reconcile_requests"}
        return with_served_requests(attrs.evolve(report, body=bare), tuple(served))

    def _bound(self, conn: sqlite3.Connection) -> None:
        excess = self._size - self._capacity
        if excess <= 0:
            return
        doomed = [
            r[0]
            for r in conn.execute(
                "SELECT seq FROM outbox WHERE kind IN (?, ?) AND state = 'ready' AND pinned = 0"
                " ORDER BY seq LIMIT ?",
                (ReportKind.EVENT.value, ReportKind.DRIFT.value, excess),
            ).fetchall()
        ]
        if not doomed:
            return
        conn.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in doomed])
        self._size -= len(doomed)
        self._count_dropped(conn, len(doomed))

    def _count_dropped(self, conn: sqlite3.Connection, count: int) -> None:
        """Add ``count`` to the unsent ``ReportsDropped`` event, or start one (an overflow episode)."""
        if self._dropped is not None:
            self._dropped.labels(kind=ReportKind.EVENT.value).inc(count)
        row = conn.execute(
            "SELECT id, body FROM outbox WHERE pinned = 1 AND state = 'ready' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        now = self._now().isoformat()
        if row is not None:
            body = json.loads(row[1])
            body["data"]["dropped"] += count
            body["data"]["last_dropped_at"] = now
            body["message"] = _dropped_message(body["data"]["dropped"], self._capacity)
            conn.execute("UPDATE outbox SET body = ? WHERE id = ?", (json.dumps(body), row[0]))
            return
        _log.warning(
            "the outbox is full: dropping the oldest events",
            extra={"capacity": self._capacity, "dropped": count},
        )
        marker = event_report(
            EventType.REPORTS_DROPPED,
            now=self._now(),
            reason="outbox-full",
            message=_dropped_message(count, self._capacity),
            data={
                "dropped": count,
                "capacity": self._capacity,
                "first_dropped_at": now,
                "last_dropped_at": now,
            },
        )
        conn.execute(
            "INSERT INTO outbox (id, kind, state, pinned, body, created_at) VALUES (?, ?, 'ready', 1, ?, ?)",
            (marker.report_id, marker.kind.value, json.dumps(dict(marker.body)), time.time()),
        )
        self._size += 1

    # reading and acknowledging -----------------------------------------------------------------
    def peek(self, kind: ReportKind, *, limit: int) -> list[Queued]:
        """The oldest ready reports of ``kind``."""
        rows = self._db.query(
            "SELECT seq, kind, id, body FROM outbox WHERE kind = ? AND state = 'ready' ORDER BY seq LIMIT ?",
            (kind.value, limit),
        )
        return [_queued(row) for row in rows]

    def remove(self, report_ids: Iterable[str]) -> None:
        """Forget delivered (or refused) reports."""
        ids = [(report_id,) for report_id in report_ids]
        if ids:
            with self._tx() as conn:
                before = conn.total_changes
                conn.executemany("DELETE FROM outbox WHERE id = ? AND state = 'ready'", ids)
                self._size -= conn.total_changes - before

    def intents(self) -> list[Queued]:
        """Events of actions whose outcome was never recorded (a crash mid-action), oldest first."""
        rows = self._db.query("SELECT seq, kind, id, body FROM outbox WHERE state = 'intent' ORDER BY seq")
        return [_queued(row) for row in rows]

    def depth(self) -> Mapping[str, int]:
        """Reports waiting, by kind (intents included)."""
        counts = dict.fromkeys((kind.value for kind in ReportKind), 0)
        counts.update(
            {str(k): int(n) for k, n in self._db.query("SELECT kind, count(*) FROM outbox GROUP BY kind")}
        )
        return counts

    def oldest_age(self) -> float:
        """Seconds the oldest waiting report has waited (0 when none waits)."""
        rows = self._db.query("SELECT min(created_at) FROM outbox")
        oldest = rows[0][0] if rows else None
        return 0.0 if oldest is None else max(0.0, time.time() - float(oldest))

    def pending(self, kind: ReportKind = ReportKind.EVENT) -> Sequence[Mapping[str, Any]]:
        """The bodies of every ready report of ``kind``, oldest first (tests and diagnostics)."""
        return [q.body for q in self.peek(kind, limit=self._capacity + 10)]


def _dropped_message(count: int, capacity: int) -> str:
    return (
        f"{count} events were dropped, oldest first, while Starbase could not take them "
        f"(the outbox keeps {capacity} reports)"
    )
