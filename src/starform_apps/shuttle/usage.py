"""Usage snapshots: every interval (60 s), the Starform pods that ran and the volume claims that
were bound in the window just ended.

The pod watch (:class:`~starform_core.ports.pods.PodWatch`) feeds a
:class:`~starform_core.usage.PodLedger`, the claim watch
(:class:`~starform_core.ports.claims.ClaimWatch`, when given) a
:class:`~starform_core.usage.ClaimLedger`; at each grid point the due windows
(:func:`~starform_core.usage.due_windows`) become snapshots written to the outbox **in the same
transaction** as the new window end, so a crash either loses nothing or has queued the window
(the outbox then delivers it until Starbase takes it; its ``snapshot_id``,
``<cluster_id>:<window start>``, makes every retry a no-op). After a restart the windows go on
from the last end written: the time Shuttle was away is covered, from what the restarted watch
shows (pods running now bill the whole gap from their start; pods that still show their end
bill up to it; claims bound now bill it from their creation; pods and claims gone meanwhile are
not seen), and those snapshots say so in their ``agent``
(``… observed-after-restart``). Time older than Starbase accepts is skipped, with a WARNING and
a metric. A graceful stop closes the window under way at the moment of the stop.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import Report, ReportKind
from starform_apps.shuttle.statedb import StateDB
from starform_apps.shuttle.usage_metrics import UsageMetrics
from starform_core.ports.claims import ClaimWatch
from starform_core.ports.pods import PodWatch
from starform_core.usage import (
    MAX_WINDOW,
    ClaimLedger,
    PodLedger,
    UsageWindow,
    due_windows,
    grid_floor,
    snapshot_documents,
    wire_time,
)

__all__ = ["AGENT", "MAX_CATCH_UP", "RESTART_MARK", "UsageReporter"]

_log = logging.getLogger("starform.shuttle.usage")

AGENT: Final = "shuttle/0.1"
RESTART_MARK: Final = "observed-after-restart"
"""Appended to ``agent`` on the snapshots of windows Shuttle did not watch as they happened."""
MAX_CATCH_UP: Final = dt.timedelta(days=34)
"""How far back a restart covers (Starbase bills windows up to 35 days old)."""

_WINDOWS_PER_WRITE: Final = 12
"""Windows written per transaction (an hour of 5-minute windows after a long absence)."""

_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS usage_window (cluster_id TEXT PRIMARY KEY, window_end TEXT NOT NULL)"
)


class UsageReporter:
    """Closes usage windows into the outbox (see the module docstring)."""

    def __init__(
        self,
        *,
        cluster_id: str,
        pods: PodWatch,
        outbox: Outbox,
        db: StateDB,
        metrics: UsageMetrics,
        interval: float = 60.0,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        max_catch_up: dt.timedelta = MAX_CATCH_UP,
        claims: ClaimWatch | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        self._pods = pods
        self._claims = claims
        self._outbox = outbox
        self._db = db
        self._metrics = metrics
        if not 0 < interval <= MAX_WINDOW.total_seconds():
            raise ValueError(f"the usage interval must be between 0 and {MAX_WINDOW.total_seconds():g} s")
        self._interval = dt.timedelta(seconds=interval)
        self._now = now
        self._max_catch_up = max_catch_up
        self._ledger = PodLedger()
        self._claim_ledger = ClaimLedger()
        self._lock = threading.Lock()
        self._ticking = threading.Lock()
        self._unsubscribe: list[Callable[[], None]] = []
        self._watched_from: dt.datetime | None = None
        self._last_end: dt.datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with db.transaction() as conn:
            conn.execute(_TABLE)

    # the pod watch -------------------------------------------------------------------------------
    def _observe(self, event: str, pod: Any) -> None:
        at = self._now()
        with self._lock:
            if not self._ledger.observe(event, pod, at=at):
                self._metrics.pods_ignored.inc()
            self._metrics.pods_tracked.set(self._ledger.running())

    def _observe_claim(self, event: str, claim: Any) -> None:
        at = self._now()
        with self._lock:
            if not self._claim_ledger.observe(event, claim, at=at):
                self._metrics.claims_ignored.inc()
            self._metrics.claims_held.set(self._claim_ledger.held())

    def begin(self) -> None:
        """Subscribe to the pod (and claim) watch (call once the watches have listed) and take up
        the windows where the last run left them (or start them now)."""
        self._watched_from = self._now()
        self._unsubscribe.append(self._pods.watch_pods(self._observe))
        if self._claims is not None:
            self._unsubscribe.append(self._claims.watch_claims(self._observe_claim))
        stored = self._db.query(
            "SELECT window_end FROM usage_window WHERE cluster_id = ?", (self._cluster_id,)
        )
        if stored:
            self._last_end = dt.datetime.fromisoformat(stored[0][0])
            _log.info("usage windows resume", extra={"window_end": wire_time(self._last_end)})
        else:
            self._last_end = self._watched_from.replace(microsecond=0)
            with self._db.transaction() as conn:
                self._write_end(conn, self._last_end)
        self._metrics.window_end.set(self._last_end.timestamp())

    # windows ------------------------------------------------------------------------------------
    def tick(self, *, final: bool = False) -> int:
        """Queue the snapshots of every due window (with ``final``, also the window under way,
        up to now); returns how many were queued."""
        with self._ticking:  # the thread's ticks and the final one at stop never overlap
            return self._tick(final=final)

    def _tick(self, *, final: bool) -> int:
        if self._last_end is None:
            raise RuntimeError("begin() first")
        now = self._now()
        self._skip_unaccepted(now)
        windows = due_windows(self._last_end, now, interval=self._interval)
        tail = windows[-1].end if windows else self._last_end
        if final and tail < now:
            windows.extend(
                due_windows(tail, now, interval=dt.timedelta(microseconds=1), max_window=self._interval)
            )
        queued = 0
        for first in range(0, len(windows), _WINDOWS_PER_WRITE):  # a long absence: bounded memory
            queued += self._queue(windows[first : first + _WINDOWS_PER_WRITE])
        return queued

    def _queue(self, windows: list[UsageWindow]) -> int:
        with self._lock:
            documents = [
                document
                for window in windows
                for document in snapshot_documents(
                    self._cluster_id,
                    window,
                    self._ledger.samples(window.start, window.end),
                    agent=self._agent(window),
                    claims=self._claim_ledger.samples(window.start, window.end),
                )
            ]
        end = windows[-1].end
        with self._outbox.transaction() as conn:
            for document in documents:
                self._outbox.insert(conn, Report(ReportKind.USAGE, document["snapshot_id"], document))
            self._write_end(conn, end)
        with self._lock:
            self._ledger.settle(end)
            self._claim_ledger.settle(end)
        self._last_end = end
        self._metrics.queued.inc(len(documents))
        self._metrics.window_end.set(end.timestamp())
        return len(documents)

    def _agent(self, window: UsageWindow) -> str:
        observed = self._watched_from is not None and window.start >= self._watched_from.replace(
            microsecond=0
        )
        return AGENT if observed else f"{AGENT} {RESTART_MARK}"

    def _skip_unaccepted(self, now: dt.datetime) -> None:
        assert self._last_end is not None
        oldest = grid_floor(now - self._max_catch_up, self._interval)
        if self._last_end >= oldest:
            return
        skipped = (oldest - self._last_end).total_seconds()
        _log.warning(
            "usage older than Starbase accepts is not reported",
            extra={"from": wire_time(self._last_end), "to": wire_time(oldest), "seconds": skipped},
        )
        self._metrics.unobserved.inc(skipped)
        self._last_end = oldest

    def _write_end(self, conn: Any, end: dt.datetime) -> None:
        conn.execute(
            "INSERT INTO usage_window (cluster_id, window_end) VALUES (?, ?)"
            " ON CONFLICT (cluster_id) DO UPDATE SET window_end = excluded.window_end",
            (self._cluster_id, end.isoformat()),
        )

    # the thread ---------------------------------------------------------------------------------
    def start(self) -> None:
        """:meth:`begin`, then tick in a background thread until :meth:`stop`."""
        self.begin()
        self._thread = threading.Thread(target=self._run, name="shuttle-usage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug or a full disk must not end billing: log, try again
                _log.exception("usage snapshot failed")
            self._stop.wait(self._pause())

    def _pause(self) -> float:
        """Seconds to the next grid point (at most 1 s: a clock that jumps is noticed soon)."""
        now = self._now()
        step = grid_floor(now, self._interval) + self._interval - now
        return min(1.0, max(0.05, step.total_seconds()))

    def stop(self) -> None:
        """Stop ticking, close the window under way up to now, unsubscribe from the watches."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._last_end is not None:
            try:
                self.tick(final=True)
            except Exception:
                _log.exception("the last usage window could not be written; the next run covers it")
        while self._unsubscribe:
            self._unsubscribe.pop()()
