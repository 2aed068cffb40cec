"""Checking the running totals against the audit trail: re-meter a month from scratch and compare."""

from __future__ import annotations

import attrs

from starform_core.billing import BillingMonth, PlanTimeline, UsageKey, UsageQuantities, UsageSnapshot, meter
from starform_core.ports.billing import UsageAuditTrail, UsageLedger

__all__ = ["UsageCheck", "verify_usage"]


@attrs.frozen
class UsageCheck:
    """Totals recomputed from the audit trail, the stored totals, and where they differ."""

    snapshots: int
    expected: dict[UsageKey, UsageQuantities]
    stored: dict[UsageKey, UsageQuantities]

    @property
    def differences(self) -> list[tuple[UsageKey, UsageQuantities | None, UsageQuantities | None]]:
        """``(key, recomputed, stored)`` for every total that does not match."""
        keys = sorted(set(self.expected) | set(self.stored))
        return [
            (k, self.expected.get(k), self.stored.get(k))
            for k in keys
            if self.expected.get(k) != self.stored.get(k)
        ]


def verify_usage(
    ledger: UsageLedger, audit: UsageAuditTrail, workspace_id: str, month: BillingMonth
) -> UsageCheck:
    """Re-meter ``month`` of a workspace from its audited snapshots (refused samples left out)."""
    audited = audit.snapshots(start=month.start, end=month.end, workspace_id=workspace_id)
    snapshots = [
        attrs.evolve(item.snapshot, samples=[s for s in item.snapshot.samples if s.uid not in item.rejected])
        for item in audited
    ]
    plans = PlanTimeline.of(ledger.plan_periods(workspace_id))
    expected = {k: v for k, v in meter(_unique(snapshots), plans).items() if k.month == month}
    return UsageCheck(len(audited), expected, dict(ledger.usage_totals(workspace_id, month)))


def _unique(snapshots: list[UsageSnapshot]) -> list[UsageSnapshot]:
    seen: set[tuple[str, str]] = set()
    out = []
    for snapshot in snapshots:
        key = (snapshot.cluster_id, snapshot.snapshot_id)
        if key not in seen:
            seen.add(key)
            out.append(snapshot)
    return out
