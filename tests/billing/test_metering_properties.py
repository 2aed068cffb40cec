"""Metering properties: order-independent, idempotent, each object-instant billed once, no invention."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.billing.strategies import CLUSTER, PLANS, SERVICES, PodSpec, objects, sample_of, snapshots

from starform_core.billing import (
    BillingMonth,
    IntervalSet,
    Meter,
    PlanPeriod,
    PlanTimeline,
    SampleKind,
    UsageSnapshot,
    billable_span,
    meter,
)
from starform_core.billing.metering import UsageQuantities, accumulate, split_by_month
from starform_core.billing.months import micros
from starform_core.errors import SnapshotConflictError, ValidationError

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TIMELINE = PlanTimeline.of(PLANS)


def _total(totals: dict[object, UsageQuantities]) -> UsageQuantities:
    out = UsageQuantities()
    for value in totals.values():
        out = out + value
    return out


@FAST
@given(data=st.data())
def test_order_of_snapshots_does_not_change_the_totals(data: st.DataObject) -> None:
    world = data.draw(objects())
    snaps = data.draw(snapshots(world))
    shuffled = data.draw(st.permutations(snaps))
    assert meter(shuffled, TIMELINE) == meter(snaps, TIMELINE)


@FAST
@given(data=st.data())
def test_the_same_snapshots_twice_bill_nothing_more(data: st.DataObject) -> None:
    world = data.draw(objects())
    snaps = data.draw(snapshots(world))
    repeated = data.draw(st.permutations(snaps + snaps[: data.draw(st.integers(0, len(snaps)))]))
    assert meter(repeated, TIMELINE) == meter(snaps, TIMELINE)


@FAST
@given(data=st.data())
def test_each_object_instant_is_billed_once_and_only_when_observed(data: st.DataObject) -> None:
    """Brute force: an object's billed time is the measure of the union of its billable spans."""
    world = data.draw(objects())
    snaps = data.draw(snapshots(world))
    state = Meter()
    billed: dict[str, int] = {}
    for snapshot in snaps:
        for accrual in state.apply(snapshot):
            billed[accrual.sample.uid] = billed.get(accrual.sample.uid, 0) + accrual.spans.measure
    for spec in world:
        observed: set[int] = set()
        for snapshot in snaps:
            for sample in snapshot.samples:
                span = billable_span(snapshot, sample) if sample.uid == spec.uid else None
                if span:
                    observed.update(range(span[0] // 10**6, span[1] // 10**6))
        assert billed.get(spec.uid, 0) == len(observed) * 10**6
        assert state.covered(CLUSTER, spec.uid).measure == billed.get(spec.uid, 0)


@FAST
@given(data=st.data())
def test_incremental_folding_in_any_order_equals_metering_from_scratch(data: st.DataObject) -> None:
    world = data.draw(objects())
    snaps = data.draw(snapshots(world))
    state = Meter()
    totals: dict[object, UsageQuantities] = {}
    for snapshot in data.draw(st.permutations(snaps + snaps)):
        totals = accumulate(state.apply(snapshot), TIMELINE, into=totals)  # type: ignore[arg-type]
    assert totals == meter(snaps, TIMELINE)


@FAST
@given(data=st.data())
def test_month_split_keeps_every_microsecond(data: st.DataObject) -> None:
    world = data.draw(objects())
    snaps = data.draw(snapshots(world))
    totals = meter(snaps, TIMELINE)
    state = Meter()
    flat = sum(a.spans.measure for s in snaps for a in state.apply(s) if a.sample.kind.value == "pod")
    assert _total(totals).pod_us == flat
    assert {key.month for key in totals} <= {BillingMonth(2026, 11), BillingMonth(2026, 12)}


POD = PodSpec("00000000-0000-4000-8000-000000000001", SampleKind.POD, SERVICES[0], 500, 2**30, 0)
T0 = dt.datetime(2026, 11, 10, 12, 0, tzinfo=dt.UTC)


def _snap(
    snapshot_id: str, start: dt.datetime, seconds: int, phase: str = "Running", **times: dt.datetime
) -> UsageSnapshot:
    sample = sample_of(POD, phase, **times)
    return UsageSnapshot(CLUSTER, snapshot_id, start, start + dt.timedelta(seconds=seconds), [sample])


def _pod_seconds(snaps: list[UsageSnapshot], timeline: PlanTimeline = TIMELINE) -> float:
    return _total(meter(snaps, timeline)).pod_us / 10**6  # type: ignore[arg-type]


def test_a_gap_between_snapshots_bills_nothing() -> None:
    snaps = [_snap("a", T0, 60), _snap("b", T0 + dt.timedelta(seconds=120), 60)]
    assert _pod_seconds(snaps) == 120


def test_overlapping_windows_bill_the_overlap_once() -> None:
    snaps = [_snap("a", T0, 60), _snap("b", T0 + dt.timedelta(seconds=30), 60)]
    assert _pod_seconds(snaps) == 90
    totals = meter(snaps, TIMELINE)
    (quantities,) = totals.values()
    assert quantities.cpu_milli_us == 90 * 10**6 * 500
    assert quantities.memory_byte_us == 90 * 10**6 * 2**30


def test_running_since_and_until_narrow_the_window() -> None:
    since = T0 + dt.timedelta(seconds=45)
    assert _pod_seconds([_snap("a", T0, 60, running_since=since)]) == 15
    until = T0 + dt.timedelta(seconds=20)
    assert _pod_seconds([_snap("a", T0, 60, "Succeeded", running_until=until)]) == 20
    assert _pod_seconds([_snap("a", T0, 60, "Succeeded")]) == 0
    assert _pod_seconds([_snap("a", T0, 60, "Pending")]) == 0


def test_a_window_across_the_month_boundary_is_split_exactly() -> None:
    start = dt.datetime(2026, 11, 30, 23, 59, 30, tzinfo=dt.UTC)
    totals = meter([_snap("a", start, 60)], TIMELINE)
    by_month = {key.month: value.pod_us for key, value in totals.items()}
    assert by_month == {BillingMonth(2026, 11): 30 * 10**6, BillingMonth(2026, 12): 30 * 10**6}


def test_usage_is_cut_at_a_tier_change_and_before_the_project_existed() -> None:
    change = T0 + dt.timedelta(seconds=40)
    created = T0 + dt.timedelta(seconds=10)
    timeline = PlanTimeline.of(
        [
            PlanPeriod(PLANS[0].project_id, PLANS[0].workspace_id, "hobby", created, change),
            PlanPeriod(PLANS[0].project_id, PLANS[0].workspace_id, "pro", change),
        ]
    )
    totals = meter([_snap("a", T0, 60)], timeline)
    assert {key.tier.value: value.pod_us // 10**6 for key, value in totals.items()} == {
        "hobby": 30,
        "pro": 20,
    }


def test_a_snapshot_id_resent_with_other_content_is_a_conflict() -> None:
    state = Meter()
    state.apply(_snap("a", T0, 60))
    assert state.apply(_snap("a", T0, 60)) == ()
    with pytest.raises(SnapshotConflictError):
        state.apply(_snap("a", T0, 59))


def test_bad_snapshots_are_refused_with_the_field() -> None:
    with pytest.raises(ValidationError, match="window"):
        _snap("a", T0, 301)
    with pytest.raises(ValidationError, match=r"window\.end"):
        _snap("a", T0, 0)
    sample = sample_of(POD, "Running")
    with pytest.raises(ValidationError, match=r"samples\[1\].uid"):
        UsageSnapshot(CLUSTER, "a", T0, T0 + dt.timedelta(seconds=60), [sample, sample])
    with pytest.raises(ValidationError, match="snapshot_id"):
        UsageSnapshot(CLUSTER, "bad id!", T0, T0 + dt.timedelta(seconds=60), [sample])
    with pytest.raises(ValidationError, match="phase"):
        sample_of(POD, "Bound")
    with pytest.raises(ValidationError, match="time zone"):
        UsageSnapshot(CLUSTER, "a", T0.replace(tzinfo=None), T0 + dt.timedelta(seconds=60), [sample])


@FAST
@given(
    left=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=5),
    right=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=5),
)
def test_interval_sets_behave_as_sets_of_points(
    left: list[tuple[int, int]], right: list[tuple[int, int]]
) -> None:
    a, b = IntervalSet(left), IntervalSet(right)

    def points(spans: IntervalSet) -> set[int]:
        return {p for start, end in spans for p in range(start, end)}

    pa = {p for s, e in left for p in range(s, e)}
    pb = {p for s, e in right for p in range(s, e)}
    assert points(a) == pa and a.measure == len(pa)
    assert points(a.union(b)) == pa | pb
    assert points(a.intersection(b)) == pa & pb
    assert points(a.difference(b)) == pa - pb
    spans = a.spans
    assert all(s < e for s, e in spans) and all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))


def test_split_by_month_keeps_the_pieces_in_their_months() -> None:
    start = micros(dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC))
    end = micros(dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC))
    parts = split_by_month(IntervalSet.of(start, end))
    assert [str(m) for m, _ in parts] == ["2026-10", "2026-11", "2026-12"]
    assert sum(p.measure for _, p in parts) == end - start
