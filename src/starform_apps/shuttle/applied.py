"""The applied state: which ``(epoch, generation)`` is in effect in full, and the last attempt.

A generation is *applied* only when its apply report says so (every action succeeded, nothing
held). Recording it, and its ``GenerationApplied`` event, is one transaction of the state
database, so the two never disagree after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starform_apps.shuttle.held import HeldPayload, PayloadStore
from starform_apps.shuttle.metrics import ShuttleMetrics
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import EventType, event_report
from starform_core.reporting import ApplyReport, Version

__all__ = ["AppliedState"]


class AppliedState:
    """The version applied in full (durable) and the report of the last attempt (in memory)."""

    def __init__(
        self, store: PayloadStore, outbox: Outbox, metrics: ShuttleMetrics, *, now: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._metrics = metrics
        self._now = now
        self.version: Version | None = store.applied()
        """The ``(epoch, generation)`` last applied in full."""
        self.last_report: ApplyReport | None = None
        """The report of the last apply attempt."""
        if self.version is not None:
            self._show(self.version)

    def _show(self, version: Version) -> None:
        self._metrics.applied_epoch.set(version[0])
        self._metrics.applied_generation.set(version[1])

    def generation_in(self, epoch: int) -> int | None:
        """The generation applied in full in ``epoch`` (``None`` when none was, in that epoch)."""
        return self.version[1] if self.version is not None and self.version[0] == epoch else None

    def restoring(self, held: HeldPayload) -> bool:
        """True when ``held`` was applied in full before: a create now restores a deleted object."""
        return self.version == held.version

    def record(self, held: HeldPayload, report: ApplyReport) -> None:
        """Keep the attempt's report; when it applied ``held`` in full for the first time, say so."""
        self.last_report = report
        if not report.applied:
            return
        self._metrics.last_success.set(self._now().timestamp())
        if self.version == held.version:
            return
        epoch, generation = held.version
        event = event_report(
            EventType.GENERATION_APPLIED,
            now=self._now(),
            reason="converged",
            message=f"generation {generation} of epoch {epoch} is applied in full",
            data={"epoch": epoch, "generation": generation},
        )
        with self._outbox.transaction() as conn:
            self._store.write_applied(conn, held.version)
            self._outbox.insert(conn, event)
        self.version = held.version
        self._show(held.version)
