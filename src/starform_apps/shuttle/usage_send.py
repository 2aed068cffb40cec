"""Deliver the usage snapshots the outbox holds, oldest first, one request each.

A snapshot Starbase took (new, or a duplicate of one it has) leaves the outbox; one it refused
for good (``409`` other content under its id, ``422``) leaves it too, counted and logged as a
WARNING (a bug to look at: that window is not billed). Any other failure (Starbase away, ``5xx``,
``429``) is counted, logged as a WARNING with what waits, and raised: everything stays on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import ReportKind
from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.ports.usage import UsageSink

__all__ = ["USAGE_BATCH", "send_usage"]

_log = logging.getLogger("starform.shuttle.usage")

USAGE_BATCH = 50
"""Snapshots read from the outbox at a time."""


def send_usage(
    outbox: Outbox,
    sink: UsageSink,
    metrics: ShuttleMetrics,
    deadline: float,
    monotonic: Callable[[], float],
) -> tuple[int, int]:
    """Send until none waits or ``deadline`` (on ``monotonic``) passed: (sent, refused)."""
    sent = refused = 0
    while monotonic() < deadline:
        batch = outbox.peek(ReportKind.USAGE, limit=USAGE_BATCH)
        if not batch:
            break
        for queued in batch:
            if monotonic() >= deadline:
                break
            try:
                new = sink.report_usage(queued.body)
            except ReportRefusedError as exc:
                outbox.remove([queued.report_id])
                reason = exc.reason or f"http-{exc.status}"
                metrics.usage.failed.labels(reason=reason).inc()
                metrics.reports_refused.labels(kind=ReportKind.USAGE.value, reason=reason).inc()
                _log.warning(
                    "starbase refused a usage snapshot: its window is not billed",
                    extra={"snapshot_id": queued.report_id, "status": exc.status, "reason": reason},
                )
                refused += 1
                continue
            except DesiredStateSourceError as exc:
                metrics.usage.failed.labels(reason="unavailable").inc()
                _log.warning(
                    "usage snapshots wait for Starbase",
                    extra={
                        "error": str(exc),
                        "waiting": outbox.depth().get(ReportKind.USAGE.value, 0),
                        "oldest": batch[0].report_id,
                    },
                )
                raise
            outbox.remove([queued.report_id])
            metrics.usage.sent.labels(result="new" if new else "duplicate").inc()
            metrics.reports_sent.labels(kind=ReportKind.USAGE.value).inc()
            sent += 1
    return sent, refused
