"""The pod ledger: running intervals from watch events, each window's samples, nothing counted twice."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.usage.pods import T0, billed_seconds, pod

from starform_core.usage import PodLedger, UsageWindow, snapshot_documents


def _s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _window(ledger: PodLedger, start: float, end: float) -> dict[str, Any]:
    window = UsageWindow(_s(start), _s(end))
    samples = ledger.samples(window.start, window.end)
    ledger.settle(window.end)
    return snapshot_documents("c", window, samples, agent="test")[0]


def test_a_pod_running_through_windows_bills_each_window_whole() -> None:
    ledger = PodLedger()
    ledger.observe("ADDED", pod("a", started=_s(-600)), at=_s(0))
    first, second = _window(ledger, 0, 60), _window(ledger, 60, 120)
    assert [p.get("running_since") for p in first["pods"] + second["pods"]] == [None, None]
    assert billed_seconds([first, second]) == {first["pods"][0]["uid"]: 120.0}
    assert ledger.running() == 1


def test_a_pod_that_starts_and_is_deleted_inside_a_window_bills_what_it_ran() -> None:
    ledger = PodLedger()
    obj = pod("a", phase="Pending")
    ledger.observe("ADDED", obj, at=_s(3))
    running = pod("a", uid=obj["metadata"]["uid"], started=_s(10))
    ledger.observe("MODIFIED", running, at=_s(11))
    ledger.observe("DELETED", running, at=_s(42))
    snapshot = _window(ledger, 0, 60)
    (sample,) = snapshot["pods"]
    assert (sample["phase"], sample["running_since"], sample["running_until"]) == (
        "Running",
        "2026-11-12T09:00:10Z",
        "2026-11-12T09:00:42Z",
    )
    assert ledger.tracked() == 0, "a pod gone and reported to its end is forgotten"
    assert _window(ledger, 60, 120)["pods"] == []


def test_a_finished_pod_bills_to_its_containers_end_and_not_after() -> None:
    ledger = PodLedger()
    obj = pod("job", started=_s(5))
    ledger.observe("ADDED", obj, at=_s(5))
    done = pod("job", uid=obj["metadata"]["uid"], phase="Succeeded", started=_s(5), finished=_s(70))
    ledger.observe("MODIFIED", done, at=_s(75))  # seen late: the container's finishedAt counts
    first, second, third = _window(ledger, 0, 60), _window(ledger, 60, 120), _window(ledger, 120, 180)
    assert second["pods"][0]["phase"] == "Succeeded"
    assert third["pods"] == []
    assert billed_seconds([first, second, third]) == {obj["metadata"]["uid"]: 65.0}
    assert ledger.tracked() == 1, "a finished pod still in the cluster stays known (it bills nothing)"


def test_pending_and_foreign_pods_bill_nothing() -> None:
    ledger = PodLedger()
    ledger.observe("ADDED", pod("waiting", phase="Pending"), at=_s(0))
    assert ledger.observe("ADDED", pod("foreign", started=_s(0), labels={"app": "x"}), at=_s(0)) is False
    assert _window(ledger, 0, 60)["pods"] == []


def test_unknown_stops_the_interval_and_running_again_starts_a_new_one() -> None:
    ledger = PodLedger()
    obj = pod("a", started=_s(-100))
    uid = obj["metadata"]["uid"]
    ledger.observe("ADDED", obj, at=_s(0))
    ledger.observe("MODIFIED", pod("a", uid=uid, phase="Unknown", started=_s(-100)), at=_s(30))
    first = _window(ledger, 0, 60)
    ledger.observe("MODIFIED", pod("a", uid=uid, started=_s(-100)), at=_s(90))  # old start: seen now
    second = _window(ledger, 60, 120)
    assert billed_seconds([first, second]) == {uid: 30.0 + 30.0}


def test_events_delivered_twice_or_replayed_after_a_relist_change_nothing() -> None:
    ledger = PodLedger()
    obj = pod("a", started=_s(12))
    for at in (12, 13, 50):
        ledger.observe("ADDED", copy.deepcopy(obj), at=_s(at))
    ledger.observe("DELETED", obj, at=_s(40))
    ledger.observe("DELETED", obj, at=_s(55))
    snapshot = _window(ledger, 0, 60)
    assert billed_seconds([snapshot]) == {obj["metadata"]["uid"]: 28.0}


# -- the property: the windows bill exactly the time each pod ran --------------------------------
_END = st.sampled_from(["running", "deleted", "finished", "finished-then-deleted"])


@st.composite
def _lifecycles(draw: st.DrawFn) -> list[tuple[int, int, str, int]]:
    """(created, started, how it ends, ended) per pod, on whole seconds of [0, 1500)."""
    pods = []
    for _ in range(draw(st.integers(1, 8))):
        created = draw(st.integers(0, 1400))
        started = draw(st.integers(created, created + 60))
        pods.append((created, started, draw(_END), draw(st.integers(started, started + 900))))
    return pods


@st.composite
def _windows(draw: st.DrawFn) -> list[tuple[int, int]]:
    """Contiguous windows from 0 to at least 1500 s, each 1 to 300 s."""
    windows, start = [], 0
    while start < 1500:
        end = start + draw(st.integers(1, 300))
        windows.append((start, end))
        start = end
    return windows


def _events(lifecycles: list[tuple[int, int, str, int]]) -> list[tuple[int, str, dict[str, Any]]]:
    events = []
    for n, (created, started, end, ended) in enumerate(lifecycles):
        uid = str(uuid.UUID(int=n + 1))
        events.append((created, "ADDED", pod(f"p{n}", uid=uid, phase="Pending")))
        running = pod(f"p{n}", uid=uid, started=_s(started))
        events.append((started, "MODIFIED", running))
        if end == "deleted":
            events.append((ended, "DELETED", running))
        elif end.startswith("finished"):
            done = pod(f"p{n}", uid=uid, phase="Succeeded", started=_s(started), finished=_s(ended))
            events.append((ended, "MODIFIED", done))
            if end == "finished-then-deleted":
                events.append((ended + 30, "DELETED", done))
    return sorted(events, key=lambda e: e[0])


@settings(max_examples=150, deadline=None)
@given(lifecycles=_lifecycles(), windows=_windows(), repeat=st.booleans())
def test_contiguous_windows_bill_each_pod_exactly_the_time_it_ran(
    lifecycles: list[tuple[int, int, str, int]], windows: list[tuple[int, int]], repeat: bool
) -> None:
    ledger = PodLedger()
    pending = _events(lifecycles)
    snapshots = []
    for start, end in windows:
        while pending and pending[0][0] < end:
            at, kind, obj = pending.pop(0)
            for _ in range(2 if repeat else 1):
                ledger.observe(kind, copy.deepcopy(obj), at=_s(at))
        snapshots.append(_window(ledger, start, end))
    horizon = windows[-1][1]
    truth = {}
    for n, (_created, started, end, ended) in enumerate(lifecycles):
        stop = horizon if end == "running" else min(ended, horizon)
        if stop > started:
            truth[str(uuid.UUID(int=n + 1))] = float(stop - started)
    assert billed_seconds(snapshots) == truth
