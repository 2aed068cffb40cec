"""An in-memory Starbase agent API: the test double of the source, report-sink and usage ports.

Serves canonical payload bytes with ETag semantics; keeps status reports (once per
``report_id``) and events (once per ``event_id``); judges reports as Starbase does (a report of
another epoch, or of a generation above the published one, is refused for good). It long-polls
as Starbase does: a fetch with a ``wait`` whose ETag is current is held until a publish, a
reconcile request not announced yet, or the wait's end (``long_poll=False``: it answers at once,
not honouring the wait); :meth:`InMemorySource.request_reconcile` asks for a reconcile, named on
every answer until a status report lists it in ``served_reconcile_requests``. ``down``
simulates an unreachable Starbase; ``lose_answers`` stores a report, then fails as if the answer
was lost (so the agent sends it again).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.payload import DesiredState, etag_of, to_json
from starform_core.ports.source import Fetched, NotModified
from starform_core.ports.usage import UsageReceipt
from starform_core.reporting import judge_report

__all__ = ["InMemorySource"]


def _version(body: bytes) -> tuple[int, int]:
    """(epoch, generation) of published bytes, (0, 0) when they do not say."""
    try:
        data = json.loads(body)
    except ValueError:
        return (0, 0)
    if not isinstance(data, dict):
        return (0, 0)
    epoch, generation = data.get("epoch", 0), data.get("generation", 0)
    return (
        epoch if isinstance(epoch, int) else 0,
        generation if isinstance(generation, int) else 0,
    )


class InMemorySource:
    """Implements :class:`~starform_core.ports.source.AgentApi` and
    :class:`~starform_core.ports.usage.UsageSink` in memory (thread-safe)."""

    def __init__(self, document: DesiredState | None = None, *, long_poll: bool = True) -> None:
        self._lock = threading.Condition()
        self._long_poll = long_poll
        self._requests: dict[str, bool] = {}  # id -> announced on an answer yet
        self.served: list[str] = []
        """Reconcile request ids reported served, in arrival order (once each)."""
        self.held_polls = 0
        """Fetches that were held (long-polls)."""
        self._releases = 0
        self._holding = 0
        self._body: bytes | None = None
        self._version = (0, 0)
        self.down = False
        self.lose_answers = 0
        self.fetches = 0
        self.not_modified = 0
        self.statuses: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.events: dict[str, dict[str, Any]] = {}
        self.drift_reports: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self._report_ids: set[str] = set()
        self.usage: dict[str, dict[str, Any]] = {}
        """Usage snapshots received, by ``snapshot_id``."""
        if document is not None:
            self.publish(document)

    def publish(self, document: DesiredState) -> None:
        """Serve ``document`` from now on."""
        self.publish_bytes(to_json(document))

    def publish_bytes(self, body: bytes) -> None:
        """Serve raw bytes (to test invalid payloads)."""
        with self._lock:
            self._body = body
            self._version = _version(body)
            self._lock.notify_all()

    def release(self) -> None:
        """Answer every held long-poll now, as if its wait had passed (a server shutting down)."""
        with self._lock:
            self._releases += 1
            self._lock.notify_all()

    @property
    def holding(self) -> int:
        """Long-polls held at this moment."""
        with self._lock:
            return self._holding

    def request_reconcile(self, request_id: str) -> None:
        """Ask the agent to reconcile now (answers name ``request_id`` until it is reported served)."""
        with self._lock:
            self._requests.setdefault(request_id, False)
            self._lock.notify_all()

    @property
    def pending_requests(self) -> tuple[str, ...]:
        """Reconcile requests not reported served yet."""
        with self._lock:
            return tuple(self._requests)

    def fetch(self, *, etag: str | None, wait: int = 0) -> Fetched | NotModified:
        """The current payload, or ``NotModified`` when ``etag`` matches (held up to ``wait``
        seconds for a change or a reconcile request when long-polling)."""
        with self._lock:
            self.fetches += 1
            body = self._serving()
            honoured = wait if wait > 0 and self._long_poll else None
            if honoured and etag == etag_of(body) and all(self._requests.values()):
                self.held_polls += 1
                self._holding += 1
                releases = self._releases
                try:
                    self._lock.wait_for(
                        lambda: (
                            self._body is not body
                            or not all(self._requests.values())
                            or self._releases != releases
                        ),
                        timeout=honoured,
                    )
                finally:
                    self._holding -= 1
                body = self._serving()
            current = etag_of(body)
            requests = tuple(self._requests)
            self._requests.update(dict.fromkeys(requests, True))
            if etag == current:
                self.not_modified += 1
                return NotModified(etag=current, reconcile_requests=requests, waited=honoured)
            return Fetched(body=body, etag=current, reconcile_requests=requests, waited=honoured)

    def _serving(self) -> bytes:
        """The bytes served (lock held); raises when down or when nothing is published."""
        if self.down:
            raise DesiredStateSourceError("starbase is down (simulated)")
        if self._body is None:
            raise DesiredStateSourceError("no desired state published yet")
        return self._body

    def _answer(self) -> None:
        """Called after a report was stored: simulates a lost answer when asked to."""
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise DesiredStateSourceError("the answer was lost (simulated)")

    def report_status(self, report: Mapping[str, Any]) -> None:
        """Record a status report once per ``report_id``; refuse it as Starbase would."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            report_id = str(report.get("report_id") or "")
            if report_id and report_id in self._report_ids:
                return self._answer()
            attempt = report.get("attempt") or {}
            refusal = judge_report(
                cluster_epoch=self._version[0],
                desired_generation=self._version[1],
                epoch=report.get("epoch"),
                applied_generation=int(report.get("applied_generation") or 0),
                attempted_generation=attempt.get("generation"),
            )
            if refusal is not None:
                self.refused.append({**report, "reason": refusal.reason.value})
                raise ReportRefusedError(
                    f"status report: HTTP 409 {refusal.detail}", status=409, reason=refusal.reason.value
                )
            self._report_ids.add(report_id)
            self.statuses.append(dict(report))
            for served in map(str, report.get("served_reconcile_requests") or ()):
                if served in self._requests:
                    del self._requests[served]
                    self.served.append(served)
            return self._answer()

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Record events, once per ``event_id``; returns how many were new."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            stored = 0
            for event in events:
                if str(event["event_id"]) in self.events:
                    self.duplicates += 1
                    continue
                self.events[str(event["event_id"])] = dict(event)
                stored += 1
            self._answer()
            return stored

    def report_drift(self, reports: Sequence[Mapping[str, Any]]) -> int:
        """Record drift reports, once per ``report_id``; returns how many were new."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            stored = 0
            for report in reports:
                report_id = str(report["report_id"])
                if report_id not in self.drift_reports:
                    self.drift_reports[report_id] = dict(report)
                    stored += 1
            self._answer()
            return stored

    def report_usage(self, snapshot: Mapping[str, Any]) -> UsageReceipt:
        """Record a usage snapshot once per ``snapshot_id`` (other content under a known id is
        refused, 409, as Starbase does); bills every sample."""
        with self._lock:
            if self.down:
                raise DesiredStateSourceError("starbase is down (simulated)")
            snapshot_id = str(snapshot["snapshot_id"])
            known = self.usage.get(snapshot_id)
            if known is not None and known != dict(snapshot):
                raise ReportRefusedError(
                    f"usage snapshot: HTTP 409 {snapshot_id} was received with other content",
                    status=409,
                    reason="snapshot_conflict",
                )
            self.usage[snapshot_id] = dict(snapshot)
            self._answer()
            return UsageReceipt(new=known is None)

    def event_types(self) -> list[str]:
        """The types of the events received, in arrival order."""
        with self._lock:
            return [e["type"] for e in self.events.values()]

    @property
    def applied_generation(self) -> int | None:
        """The applied generation of the last status report received (``None`` before any)."""
        with self._lock:
            return int(self.statuses[-1]["applied_generation"]) if self.statuses else None
