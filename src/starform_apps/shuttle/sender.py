"""Send what the outbox holds: events in batches, drift reports in batches, then the latest
status report, then the usage snapshots (one request each, oldest first).

Delivered reports leave the outbox; a report Starbase refuses for good (``409``, ``422``, ...)
leaves it too, counted and logged as a warning; a batch refused as a whole is split in halves
until the refused report is alone, so one bad event never holds the others back. Any other
failure (Starbase unreachable, ``5xx``, a refused token) stops the round: everything waits on
disk for the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import attrs

from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox, Queued
from starform_apps.shuttle.reports import ReportKind
from starform_apps.shuttle.usage_send import send_usage, usage_waits
from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.ports.source import ReportSink
from starform_core.ports.usage import UsageSink

__all__ = ["BATCH_SIZE", "DRIFT_BATCH_SIZE", "ReportSender", "Sent"]

_log = logging.getLogger("starform.shuttle")

BATCH_SIZE = 500
"""Events per request (Starbase takes up to 1,000)."""
DRIFT_BATCH_SIZE = 100
"""Drift reports per request (Starbase takes up to 200)."""


@attrs.frozen
class Sent:
    """One round: how many reports Starbase took, how many it refused, and the error that
    stopped the round early (empty when everything was sent)."""

    sent: int = 0
    refused: int = 0
    error: str = ""


class ReportSender:
    """Drains the outbox into Starbase."""

    def __init__(
        self,
        outbox: Outbox,
        sink: ReportSink,
        metrics: ShuttleMetrics,
        *,
        usage: UsageSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._sink = sink
        self._usage = usage
        self._metrics = metrics
        self._monotonic = monotonic
        self.duplicates = 0
        """Events Starbase already had (re-sent after a lost answer or a crash)."""

    def drain(self, *, budget_seconds: float = 30.0) -> Sent:
        """Send until the outbox is empty, a send fails, or ``budget_seconds`` passed."""
        deadline = self._monotonic() + budget_seconds
        sent = refused = 0
        try:
            while self._monotonic() < deadline:
                batch = self._outbox.peek(ReportKind.EVENT, limit=BATCH_SIZE)
                if not batch:
                    break
                ok, bad = self._send_events(batch)
                sent, refused = sent + ok, refused + bad
            while self._monotonic() < deadline:
                drifts = self._outbox.peek(ReportKind.DRIFT, limit=DRIFT_BATCH_SIZE)
                if not drifts:
                    break
                ok, bad = self._send_drift(drifts)
                sent, refused = sent + ok, refused + bad
            for status in self._outbox.peek(ReportKind.STATUS, limit=1):
                ok, bad = self._send_status(status)
                sent, refused = sent + ok, refused + bad
            if self._usage is not None:
                ok, bad = send_usage(self._outbox, self._usage, self._metrics, deadline, self._monotonic)
                sent, refused = sent + ok, refused + bad
        except DesiredStateSourceError as exc:
            if self._usage is not None:
                usage_waits(self._outbox, self._metrics, str(exc))
            _log.info(
                "reports wait for Starbase", extra={"error": str(exc), "waiting": dict(self._outbox.depth())}
            )
            return Sent(sent, refused, str(exc))
        return Sent(sent, refused)

    def _send_events(self, batch: Sequence[Queued]) -> tuple[int, int]:
        try:
            stored = self._sink.report_events([q.body for q in batch])
        except ReportRefusedError as exc:
            if len(batch) == 1:
                self._refused(batch[0], exc)
                return 0, 1
            half = len(batch) // 2
            first, second = self._send_events(batch[:half]), self._send_events(batch[half:])
            return first[0] + second[0], first[1] + second[1]
        self.duplicates += len(batch) - stored
        self._outbox.remove(q.report_id for q in batch)
        self._metrics.reports_sent.labels(kind=ReportKind.EVENT.value).inc(len(batch))
        return len(batch), 0

    def _send_drift(self, batch: Sequence[Queued]) -> tuple[int, int]:
        try:
            self._sink.report_drift([q.body for q in batch])
        except ReportRefusedError as exc:
            if len(batch) == 1:
                self._refused(batch[0], exc)
                return 0, 1
            half = len(batch) // 2
            first, second = self._send_drift(batch[:half]), self._send_drift(batch[half:])
            return first[0] + second[0], first[1] + second[1]
        self._outbox.remove(q.report_id for q in batch)
        self._metrics.reports_sent.labels(kind=ReportKind.DRIFT.value).inc(len(batch))
        return len(batch), 0

    def _send_status(self, status: Queued) -> tuple[int, int]:
        try:
            self._sink.report_status(status.body)
        except ReportRefusedError as exc:
            self._refused(status, exc)
            return 0, 1
        self._outbox.remove([status.report_id])
        self._metrics.reports_sent.labels(kind=ReportKind.STATUS.value).inc()
        return 1, 0

    def _refused(self, report: Queued, exc: ReportRefusedError) -> None:
        self._outbox.remove([report.report_id])
        reason = exc.reason or f"http-{exc.status}"
        self._metrics.reports_refused.labels(kind=report.kind.value, reason=reason).inc()
        _log.warning(
            "starbase refused a report",
            extra={
                "kind": report.kind.value,
                "report_id": report.report_id,
                "status": exc.status,
                "reason": reason,
                "detail": str(exc),
            },
        )
