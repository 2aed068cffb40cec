"""Metering: snapshots in, billed time per tenant, month and tier out.

**The rule.** Each billable object (a pod or a volume, identified by its cluster and its
Kubernetes UID) is billed for the *measure of the union* of the billable spans of all its
samples (:func:`~starform_core.billing.snapshots.billable_span`). Consequences:

* the same snapshot twice, or two snapshots whose windows overlap, bill each instant of an
  object once (a union counts a point once);
* the order in which snapshots arrive does not change the time billed;
* time no snapshot covered (a gap: Shuttle down, a lost minute) is not billed; nothing is
  interpolated across it.

An object's newly covered time is billed at the requests of the sample that covered it; pods'
requests are immutable in Kubernetes, so every sample of a pod carries the same ones (a pod
resized in place and reported in two overlapping windows is the one case where which sample
covered an instant first decides its price; it is still billed once).

Billed time is then cut at calendar-month boundaries (UTC) and at the project's plan periods,
so every piece is rated with the tier and month it happened in.

:class:`Meter` applies snapshots one at a time, as Starbase's ingestion does in PostgreSQL (the
SQL function ``billing_ingest`` is the same rule on ``tstzmultirange``); :func:`meter` folds a
collection. Snapshot ids de-duplicate exact retries; an id re-sent with other content is a
:class:`~starform_core.errors.SnapshotConflictError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from starform_core.billing.intervals import IntervalSet
from starform_core.billing.months import BillingMonth, from_micros, micros
from starform_core.billing.plans import PlanTimeline
from starform_core.billing.snapshots import (
    SampleKind,
    UsageSample,
    UsageSnapshot,
    billable_span,
    snapshot_digest,
)
from starform_core.errors import SnapshotConflictError
from starform_core.model.enums import Tier
from starform_core.model.tenant import TenantKey

__all__ = ["Accrual", "Meter", "UsageKey", "UsageQuantities", "accumulate", "meter", "split_by_month"]


@attrs.frozen
class UsageQuantities:
    """Billed amounts, exact integers: object-microseconds and request-microseconds.

    ``pod_us`` pod-microseconds; ``cpu_milli_us`` millicore-microseconds of CPU requested;
    ``memory_byte_us`` byte-microseconds of memory requested; ``volume_us`` and
    ``storage_byte_us`` the same for volumes.
    """

    pod_us: int = 0
    cpu_milli_us: int = 0
    memory_byte_us: int = 0
    volume_us: int = 0
    storage_byte_us: int = 0

    def __add__(self, other: UsageQuantities) -> UsageQuantities:
        return UsageQuantities(
            *(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )

    def __sub__(self, other: UsageQuantities) -> UsageQuantities:
        return UsageQuantities(
            *(a - b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )

    @property
    def is_zero(self) -> bool:
        """True when nothing was billed."""
        return not any(attrs.astuple(self))

    @classmethod
    def of(cls, sample: UsageSample, duration_us: int) -> UsageQuantities:
        """What ``duration_us`` of the sample's object bills."""
        if sample.kind is SampleKind.POD:
            return cls(
                pod_us=duration_us,
                cpu_milli_us=duration_us * sample.cpu_millis,
                memory_byte_us=duration_us * sample.memory_bytes,
            )
        return cls(volume_us=duration_us, storage_byte_us=duration_us * sample.storage_bytes)


@attrs.frozen(order=True)
class UsageKey:
    """Where usage is totalled: a service (tenant key), a month, the tier it was used under."""

    tenant: TenantKey
    month: BillingMonth
    tier: Tier = attrs.field(converter=Tier)


@attrs.frozen
class Accrual:
    """Time newly billed for one sample's object by one snapshot."""

    sample: UsageSample
    spans: IntervalSet


class Meter:
    """Incremental metering state: the covered time of every object, the snapshots seen."""

    def __init__(self) -> None:
        self._covered: dict[tuple[str, str], IntervalSet] = {}
        self._digests: dict[tuple[str, str], bytes] = {}

    def apply(self, snapshot: UsageSnapshot) -> tuple[Accrual, ...]:
        """Add a snapshot; returns the time it newly bills (nothing for a repeated id)."""
        key = (snapshot.cluster_id, snapshot.snapshot_id)
        digest = snapshot_digest(snapshot)
        known = self._digests.get(key)
        if known is not None:
            if known != digest:
                raise SnapshotConflictError(
                    f"snapshot {snapshot.snapshot_id} was received before with other content"
                )
            return ()
        self._digests[key] = digest
        accruals = []
        for sample in snapshot.samples:
            span = billable_span(snapshot, sample)
            if span is None:
                continue
            object_key = (snapshot.cluster_id, sample.uid)
            covered = self._covered.get(object_key, IntervalSet())
            observed = IntervalSet.of(*span)
            fresh = observed.difference(covered)
            self._covered[object_key] = covered.union(observed)
            if fresh:
                accruals.append(Accrual(sample, fresh))
        return tuple(accruals)

    def covered(self, cluster_id: str, uid: str) -> IntervalSet:
        """The time billed so far for an object."""
        return self._covered.get((cluster_id, uid), IntervalSet())


def split_by_month(spans: IntervalSet) -> list[tuple[BillingMonth, IntervalSet]]:
    """``spans`` cut at month boundaries (UTC), oldest month first."""
    if not spans:
        return []
    month = BillingMonth.of(from_micros(spans.spans[0][0]))
    last = spans.spans[-1][1]
    parts = []
    while micros(month.start) < last:
        part = spans.intersection(IntervalSet.of(micros(month.start), micros(month.end)))
        if part:
            parts.append((month, part))
        month = month.next()
    return parts


def accumulate(
    accruals: Iterable[Accrual],
    plans: PlanTimeline,
    into: Mapping[UsageKey, UsageQuantities] | None = None,
) -> dict[UsageKey, UsageQuantities]:
    """Total accruals per service, month and tier (time outside every plan period is dropped)."""
    totals = dict(into or {})
    for accrual in accruals:
        tenant = accrual.sample.tenant
        for tier, part in plans.split(tenant.project_id, accrual.spans):
            for month, piece in split_by_month(part):
                key = UsageKey(tenant, month, tier)
                totals[key] = totals.get(key, UsageQuantities()) + UsageQuantities.of(
                    accrual.sample, piece.measure
                )
    return totals


def meter(snapshots: Iterable[UsageSnapshot], plans: PlanTimeline) -> dict[UsageKey, UsageQuantities]:
    """Meter a collection of snapshots from scratch (the reference for the incremental path)."""
    state = Meter()
    accruals = [accrual for snapshot in snapshots for accrual in state.apply(snapshot)]
    return accumulate(accruals, plans)
