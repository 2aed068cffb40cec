"""The usage reporter on a simulated clock: windows every interval through the outbox, Starbase
away, lost answers, a crash and a restart, a long absence, a graceful stop. No sleeps."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.usage.agents import CLUSTER_ID, SimClock, usage_agent
from tests.usage.pods import T0, billed_seconds, pod

from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle import Shuttle
from starform_apps.shuttle.reports import EventType, event_report
from starform_apps.shuttle.usage import RESTART_MARK
from starform_core.errors import DesiredStateSourceError
from starform_core.kube.objects import key_of
from starform_core.payload import example_payload
from starform_core.ports.usage import UsageReceipt

START = T0 + dt.timedelta(seconds=17)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster(require_namespaces=False)


@pytest.fixture
def source() -> InMemorySource:
    return InMemorySource(example_payload())


def _run_pod(cluster: FakeCluster, clock: SimClock, name: str, **options: Any) -> dict[str, Any]:
    return cluster.put(pod(name, started=clock.now, **options))


def _step(agent: Shuttle, clock: SimClock, seconds: float, *, every: float = 10.0) -> None:
    """Move the clock by ``seconds`` in steps, ticking and sending at each."""
    assert agent.usage is not None
    moved = 0.0
    while moved < seconds:
        clock.advance(min(every, seconds - moved))
        moved += every
        agent.usage.tick()
        agent.drain(budget_seconds=5)


def _windows(source: InMemorySource) -> list[tuple[str, str]]:
    return sorted((s["window"]["start"], s["window"]["end"]) for s in source.usage.values())


def _contiguous(windows: list[tuple[str, str]]) -> bool:
    return all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_a_snapshot_every_minute_bills_the_pods_that_ran(
    tmp_path: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    web = _run_pod(cluster, clock, "web", cpu="500m", memory="1Gi")
    _step(agent, clock, 100)  # to 09:01:57
    job = _run_pod(cluster, clock, "job")
    _step(agent, clock, 50)
    cluster.delete(key_of(job))
    _step(agent, clock, 130)  # to 09:04:57
    windows = _windows(source)
    assert windows[0] == ("2026-11-12T09:00:17Z", "2026-11-12T09:01:00Z")
    assert windows[-1][1] == "2026-11-12T09:04:00Z" and _contiguous(windows)
    assert set(source.usage) == {f"{CLUSTER_ID}:{start}" for start, _ in windows}
    billed = billed_seconds(source.usage.values())
    assert billed == {web["metadata"]["uid"]: 223.0, job["metadata"]["uid"]: 50.0}
    sample = source.usage[f"{CLUSTER_ID}:2026-11-12T09:00:17Z"]["pods"][0]
    assert (sample["cpu"], sample["memory"]) == ("500m", str(2**30))
    assert agent.metrics.usage.pods_tracked._value.get() == 1
    assert agent.metrics.usage.queued._value.get() == len(windows)


def test_starbase_away_for_an_hour_loses_no_snapshot_and_warns(
    tmp_path: Path,
    cluster: FakeCluster,
    source: InMemorySource,
    clock: SimClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    web = _run_pod(cluster, clock, "web")
    source.down = True
    with caplog.at_level(logging.WARNING, logger="starform.shuttle.usage"):
        _step(agent, clock, 3600, every=60)
    assert source.usage == {}
    assert agent.outbox.depth()["usage"] == 60
    assert any(r.message == "usage snapshots wait for Starbase" for r in caplog.records)
    assert agent.metrics.usage.failed.labels(reason="unavailable")._value.get() == 60
    source.down = False
    source.lose_answers = 1  # the first answer after the outage is lost: sent again, stored once
    _step(agent, clock, 60)
    assert agent.outbox.depth()["usage"] == 0
    windows = _windows(source)
    assert len(windows) == 61 and _contiguous(windows)
    assert billed_seconds(source.usage.values()) == {web["metadata"]["uid"]: 3643.0}
    assert agent.metrics.usage.sent.labels(result="duplicate")._value.get() == 1


def test_a_crash_then_a_restart_goes_on_from_the_last_window_written(
    tmp_path: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    web = _run_pod(cluster, clock, "web")
    _step(agent, clock, 100)  # windows to 09:01:00 queued and sent
    source.down = True
    _step(agent, clock, 60)  # the 09:01-09:02 window waits in the outbox
    agent.db.close()  # SIGKILL: no stop, no final window; only what was committed remains
    clock.advance(700)  # away for about 12 minutes; a pod started and finished meanwhile
    batch = cluster.put(
        pod(
            "batch",
            phase="Succeeded",
            started=clock.now - dt.timedelta(seconds=300),
            finished=clock.now - dt.timedelta(seconds=100),
        )
    )
    source.down = False
    again = usage_agent(tmp_path, cluster, source, clock)
    _step(again, clock, 60)
    windows = _windows(source)
    assert windows[0][0] == "2026-11-12T09:00:17Z" and _contiguous(windows), "no gap, no overlap"
    assert max(len(s["pods"]) for s in source.usage.values()) == 2
    marked = [s for s in source.usage.values() if RESTART_MARK in s["agent"]]
    assert [s["window"]["start"] for s in sorted(marked, key=lambda s: s["window"]["start"])] == [
        "2026-11-12T09:02:00Z",
        "2026-11-12T09:07:00Z",
        "2026-11-12T09:12:00Z",
        "2026-11-12T09:14:00Z",  # partly: the restarted Shuttle watches from 09:14:37
    ], "the windows Shuttle did not watch say so"
    end = dt.datetime.fromisoformat(windows[-1][1])
    assert billed_seconds(source.usage.values()) == {
        web["metadata"]["uid"]: (end - START).total_seconds(),
        batch["metadata"]["uid"]: 200.0,
    }


def test_a_graceful_stop_closes_the_window_under_way(
    tmp_path: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    web = _run_pod(cluster, clock, "web")
    _step(agent, clock, 70)  # 09:01:27
    agent.stop(grace_seconds=5)
    assert _windows(source)[-1] == ("2026-11-12T09:01:00Z", "2026-11-12T09:01:27Z")
    cluster.delete(key_of(web))  # deleted while Shuttle is away: its time since the stop is unknown
    clock.advance(30)
    again = usage_agent(tmp_path, cluster, source, clock)
    _step(again, clock, 60)
    assert _contiguous(_windows(source))
    assert billed_seconds(source.usage.values()) == {web["metadata"]["uid"]: 70.0}


def test_an_absence_longer_than_starbase_accepts_is_skipped_with_a_warning(
    tmp_path: Path,
    cluster: FakeCluster,
    source: InMemorySource,
    clock: SimClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    agent.db.close()
    clock.advance(40 * 86_400)
    again = usage_agent(tmp_path, cluster, source, clock)
    assert again.usage is not None
    with caplog.at_level(logging.WARNING, logger="starform.shuttle.usage"):
        again.usage.tick()
    assert any(r.message == "usage older than Starbase accepts is not reported" for r in caplog.records)
    assert again.metrics.usage.unobserved._value.get() == pytest.approx(6 * 86_400 - 17, abs=60)
    assert again.outbox.depth()["usage"] == 34 * 86_400 // 300


def test_a_snapshot_refused_for_good_is_dropped_counted_and_logged(
    tmp_path: Path,
    cluster: FakeCluster,
    source: InMemorySource,
    clock: SimClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    source.usage[f"{CLUSTER_ID}:2026-11-12T09:00:17Z"] = {"snapshot_id": "other content"}
    with caplog.at_level(logging.WARNING, logger="starform.shuttle.usage"):
        _step(agent, clock, 120)
    assert agent.outbox.depth()["usage"] == 0
    assert agent.metrics.usage.failed.labels(reason="snapshot_conflict")._value.get() == 1
    assert any("refused a usage snapshot" in r.message for r in caplog.records)
    assert f"{CLUSTER_ID}:2026-11-12T09:01:00Z" in source.usage, "the next window went on"


class NoUsageEndpoint(InMemorySource):
    """A Starbase that takes reports but not usage snapshots (older, or its billing down)."""

    def report_usage(self, snapshot: Mapping[str, Any]) -> UsageReceipt:
        raise DesiredStateSourceError("usage snapshot: HTTP 404")


def test_snapshots_that_cannot_be_sent_hold_back_neither_events_nor_status(
    tmp_path: Path, cluster: FakeCluster, clock: SimClock
) -> None:
    source = NoUsageEndpoint(example_payload())
    agent = usage_agent(tmp_path, cluster, source, clock)
    _step(agent, clock, 120)
    agent.outbox.add(event_report(EventType.APPLIED, now=clock.now, reason="test"))
    sent = agent.drain(budget_seconds=5)
    assert "HTTP 404" in sent.error
    assert agent.outbox.depth() == {"event": 0, "status": 0, "drift": 0, "usage": 2}
    assert list(source.events) != []


class RejectsPods(InMemorySource):
    """A Starbase that takes snapshots but bills none of their pods (a tenant key it does not know)."""

    def report_usage(self, snapshot: Mapping[str, Any]) -> UsageReceipt:
        receipt = super().report_usage(snapshot)
        return UsageReceipt(new=receipt.new, rejected=tuple("unknown_project" for _ in snapshot["pods"]))


def test_pods_starbase_did_not_bill_are_counted_and_logged(
    tmp_path: Path, cluster: FakeCluster, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    agent = usage_agent(tmp_path, cluster, RejectsPods(example_payload()), clock)
    _run_pod(cluster, clock, "web")
    _run_pod(cluster, clock, "worker")
    with caplog.at_level(logging.WARNING, logger="starform.shuttle.usage"):
        _step(agent, clock, 60)
    assert agent.metrics.usage.samples_rejected.labels(reason="unknown_project")._value.get() == 2
    (line,) = [
        r for r in caplog.records if r.message == "starbase did not bill some pods of a usage snapshot"
    ]
    assert line.rejected == {"unknown_project": 2}  # type: ignore[attr-defined]
