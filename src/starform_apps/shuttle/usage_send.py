"""Deliver the usage snapshots the outbox holds, oldest first, one request each.

A snapshot Starbase took (new, or a duplicate of one it has) leaves the outbox; one it refused
for good (``409`` other content under its id, ``422``) leaves it too, counted and logged as a
WARNING (a bug to look at: that window is not billed). Pods Starbase took the snapshot without
billing (a tenant key that does not match its records) are counted by reason and logged. Any
other failure (Starbase away, ``5xx``, ``429``) ends the round; :func:`usage_waits` then counts
it and logs a WARNING when snapshots wait (whichever report met the failure first): everything
stays on disk.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import ReportKind
from starform_core.errors import ReportRefusedError
from starform_core.ports.usage import UsageSink

__all__ = ["USAGE_BATCH", "send_usage", "usage_waits"]

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
                receipt = sink.report_usage(queued.body)
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
            outbox.remove([queued.report_id])
            metrics.usage.sent.labels(result="new" if receipt.new else "duplicate").inc()
            if receipt.rejected and receipt.new:
                _rejected(queued.report_id, receipt.rejected, metrics)
            metrics.reports_sent.labels(kind=ReportKind.USAGE.value).inc()
            sent += 1
    return sent, refused


def usage_waits(outbox: Outbox, metrics: ShuttleMetrics, error: str) -> None:
    """A round ended with Starbase unavailable: count it and warn when usage snapshots wait."""
    waiting = outbox.peek(ReportKind.USAGE, limit=1)
    if not waiting:
        return
    metrics.usage.failed.labels(reason="unavailable").inc()
    _log.warning(
        "usage snapshots wait for Starbase",
        extra={
            "error": error,
            "waiting": outbox.depth().get(ReportKind.USAGE.value, 0),
            "oldest": waiting[0].report_id,
        },
    )


def _rejected(snapshot_id: str, reasons: tuple[str, ...], metrics: ShuttleMetrics) -> None:
    """Starbase billed the snapshot but not some of its pods (their tenant key does not match)."""
    counts = Counter(reasons)
    for reason, count in counts.items():
        metrics.usage.samples_rejected.labels(reason=reason).inc(count)
    _log.warning(
        "starbase did not bill some pods of a usage snapshot",
        extra={"snapshot_id": snapshot_id, "rejected": dict(counts)},
    )
