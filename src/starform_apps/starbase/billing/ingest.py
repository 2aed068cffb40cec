"""Usage ingestion: a snapshot from an agent into the running totals and the audit trail.

Order: the running totals first (PostgreSQL, one call, de-duplicated by snapshot id), then the
audit trail (idempotent too) with the refused samples and the first receipt time, so a retry after
any failure converges: the totals say "duplicate", the audit trail collapses the repeat. With
the PostgreSQL audit trail (the embedded default) the ledger records both in one statement (the
result says ``audited``): one round trip, one transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import structlog

from starform_apps.starbase.billing.digest import fast_snapshot_digest
from starform_apps.starbase.billing.metrics import BillingMetrics
from starform_core.billing.snapshots import UsageSnapshot
from starform_core.errors import SnapshotConflictError, UsageAuditError, ValidationError
from starform_core.ports.billing import IngestResult, UsageAuditTrail, UsageLedger

__all__ = ["MAX_CLOCK_SKEW", "UsageIngestion"]

MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a window may end (agents' clocks drift)."""

_log = structlog.get_logger("starbase.billing")


class UsageIngestion:
    """Applies agents' usage snapshots."""

    def __init__(
        self,
        ledger: UsageLedger,
        audit: UsageAuditTrail,
        metrics: BillingMetrics,
        *,
        clock: Callable[[], dt.datetime],
        accept_window: dt.timedelta,
    ) -> None:
        self._ledger = ledger
        self._audit = audit
        self._metrics = metrics
        self._clock = clock
        self._window = accept_window

    def _check_window(self, snapshot: UsageSnapshot) -> None:
        now = self._clock()
        if snapshot.window_end > now + MAX_CLOCK_SKEW:
            raise ValidationError("window.end", "is in the future (check the agent's clock)")
        if snapshot.window_end < now - self._window:
            days = self._window.days
            raise ValidationError("window.end", f"is older than {days} days: too late to bill")

    def ingest(self, snapshot: UsageSnapshot) -> IngestResult:
        """Bill a snapshot once and record it in the audit trail."""
        self._check_window(snapshot)
        started = time.perf_counter()
        try:
            result = self._ledger.ingest(snapshot, digest=fast_snapshot_digest(snapshot))
        except SnapshotConflictError:
            self._metrics.snapshots.labels("conflict").inc()
            _log.warning(
                "usage snapshot conflict", cluster_id=snapshot.cluster_id, snapshot_id=snapshot.snapshot_id
            )
            raise
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)
        self._metrics.snapshots.labels("duplicate" if result.duplicate else "applied").inc()
        if result.rejected and not result.duplicate:
            for item in result.rejected:
                self._metrics.samples_rejected.labels(item.reason).inc()
            _log.warning(
                "usage samples refused",
                cluster_id=snapshot.cluster_id,
                snapshot_id=snapshot.snapshot_id,
                refused=len(result.rejected),
                reasons=sorted({r.reason for r in result.rejected}),
            )
        if result.audited:
            return result  # recorded in the same transaction as the totals
        rejected = {r.uid: r.reason for r in result.rejected}
        try:
            self._audit.append(snapshot, received_at=result.received_at or self._clock(), rejected=rejected)
        except UsageAuditError:
            self._metrics.audit_failures.inc()
            _log.error(
                "usage audit trail unavailable",
                cluster_id=snapshot.cluster_id,
                snapshot_id=snapshot.snapshot_id,
            )
            raise
        return result
