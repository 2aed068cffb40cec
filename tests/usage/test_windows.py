"""Usage windows: contiguous, on the grid, at most 300 s; stable ids; Starbase's time format."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.usage.pods import T0, TENANT

from starform_core.usage import (
    MAX_PODS,
    MAX_WINDOW,
    UsageWindow,
    due_windows,
    grid_floor,
    snapshot_documents,
    snapshot_id,
)
from starform_core.usage.ledger import PodSample
from starform_core.usage.requests import PodRequests

MINUTE = dt.timedelta(seconds=60)


def test_windows_close_on_each_minute_once_it_has_passed() -> None:
    start = T0 + dt.timedelta(seconds=17)
    assert due_windows(start, T0 + dt.timedelta(seconds=59), interval=MINUTE) == []
    assert due_windows(start, T0 + dt.timedelta(seconds=60), interval=MINUTE) == [
        UsageWindow(start, T0 + MINUTE)
    ]


def test_a_long_gap_is_covered_by_windows_of_at_most_five_minutes_on_the_grid() -> None:
    start = T0 + dt.timedelta(seconds=17)
    windows = due_windows(start, T0 + dt.timedelta(minutes=12, seconds=30), interval=MINUTE)
    assert [(w.start - T0, w.end - T0) for w in windows] == [
        (dt.timedelta(seconds=17), dt.timedelta(minutes=5)),
        (dt.timedelta(minutes=5), dt.timedelta(minutes=10)),
        (dt.timedelta(minutes=10), dt.timedelta(minutes=12)),
    ]


@pytest.mark.parametrize("seconds", [0, -1, 301])
def test_an_interval_beyond_what_starbase_accepts_is_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="interval"):
        due_windows(T0, T0 + dt.timedelta(hours=1), interval=dt.timedelta(seconds=seconds))


@settings(max_examples=300, deadline=None)
@given(
    last=st.integers(0, 10**7),
    elapsed=st.integers(0, 10**5),
    interval=st.integers(1, 300),
    micros=st.integers(0, 999_999),
)
def test_due_windows_tile_the_time_to_the_last_grid_point(
    last: int, elapsed: int, interval: int, micros: int
) -> None:
    step = dt.timedelta(seconds=interval)
    start = T0 + dt.timedelta(seconds=last, microseconds=micros)
    now = start + dt.timedelta(seconds=elapsed)
    windows = due_windows(start, now, interval=step)
    goal = grid_floor(now, step)
    if goal <= start:
        assert windows == []
        return
    assert windows[0].start == start and windows[-1].end == goal
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
        assert grid_floor(before.end, step) == before.end, "windows end on the grid"
    assert all(dt.timedelta(0) < w.end - w.start <= MAX_WINDOW for w in windows)


def test_the_snapshot_id_names_the_cluster_and_the_window_start() -> None:
    window = UsageWindow(T0, T0 + MINUTE)
    assert snapshot_id("c1", window) == "c1:2026-11-12T09:00:00Z"
    late = UsageWindow(T0 + dt.timedelta(microseconds=250_000), T0 + MINUTE)
    assert snapshot_id("c1", late) == "c1:2026-11-12T09:00:00.250000Z"


def test_a_window_of_more_pods_than_a_snapshot_takes_is_split_under_related_ids() -> None:
    samples = [
        PodSample(f"00000000-0000-4000-8000-{n:012d}", TENANT, "Running", PodRequests(100, 1))
        for n in range(MAX_PODS + 5)
    ]
    documents = snapshot_documents("c1", UsageWindow(T0, T0 + MINUTE), samples, agent="shuttle/0.1")
    assert [d["snapshot_id"] for d in documents] == ["c1:2026-11-12T09:00:00Z", "c1:2026-11-12T09:00:00Z@2"]
    assert [len(d["pods"]) for d in documents] == [MAX_PODS, 5]
    assert documents[1]["window"] == {"start": "2026-11-12T09:00:00Z", "end": "2026-11-12T09:01:00Z"}
    assert documents[0]["pods"][0] == {
        "uid": "00000000-0000-4000-8000-000000000000",
        "workspace_id": TENANT.workspace_id,
        "project_id": TENANT.project_id,
        "environment": "production",
        "service_id": TENANT.service_id,
        "phase": "Running",
        "cpu": "100m",
        "memory": "1",
    }
