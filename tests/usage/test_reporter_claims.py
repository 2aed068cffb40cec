"""The usage reporter's volume claims on a simulated clock: bound claims in every window's
``volumes`` (capacity once bound), billed from the moment they bound to the moment they went
away, through a crash and a restart (a claim bound all along bills the time Shuttle was away)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.usage.agents import SimClock, usage_agent
from tests.usage.claims import claim, claim_byte_seconds
from tests.usage.pods import T0, pod

from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle import Shuttle
from starform_core.kube.labels import LABEL_MANAGED_BY, MANAGED_BY_VALUE
from starform_core.kube.objects import key_of
from starform_core.payload import example_payload

START = T0 + dt.timedelta(seconds=17)
GIB = 1 << 30


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster(require_namespaces=False)


@pytest.fixture
def source() -> InMemorySource:
    return InMemorySource(example_payload())


def _step(agent: Shuttle, clock: SimClock, seconds: float, *, every: float = 10.0) -> None:
    assert agent.usage is not None
    moved = 0.0
    while moved < seconds:
        clock.advance(min(every, seconds - moved))
        moved += every
        agent.usage.tick()
        agent.drain(budget_seconds=5)


def _last_end(source: InMemorySource) -> dt.datetime:
    return max(dt.datetime.fromisoformat(s["window"]["end"]) for s in source.usage.values())


def test_bound_claims_are_billed_from_binding_to_deletion(
    tmp_path: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    cluster.put(pod("web", started=clock.now))
    data = cluster.put(claim("data", request="10Gi", capacity="12Gi", created=clock.now))
    pending = cluster.put(claim("cache", request="5Gi", phase="Pending", created=clock.now))
    cluster.put(claim("foreign", labels={"app": "not-starform"}))  # never watched
    cluster.put(claim("keyless", labels={LABEL_MANAGED_BY: MANAGED_BY_VALUE}))  # watched, no tenant
    _step(agent, clock, 100)  # to 09:01:57
    cluster.put({**pending, "status": {"phase": "Bound", "capacity": {"storage": "5Gi"}}})  # binds now
    _step(agent, clock, 50)
    cluster.delete(key_of(pending))
    _step(agent, clock, 130)  # to 09:04:57
    assert claim_byte_seconds(source.usage.values()) == {
        data["metadata"]["uid"]: ((_last_end(source) - START).total_seconds(), 12 * GIB),
        pending["metadata"]["uid"]: (50.0, 5 * GIB),
    }
    usage = agent.metrics.usage
    assert usage.claims_held._value.get() == 1
    assert usage.claims_ignored._value.get() == 1, "the keyless claim is counted, never billed"
    assert all(len(s["pods"]) == 1 for s in source.usage.values()), "pods still go beside volumes"


def test_a_claim_bound_through_a_crash_bills_the_time_shuttle_was_away(
    tmp_path: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock
) -> None:
    agent = usage_agent(tmp_path, cluster, source, clock)
    data = cluster.put(claim("data", request="1Gi", created=clock.now))
    _step(agent, clock, 100)
    agent.db.close()  # SIGKILL: only what was committed remains
    clock.advance(700)
    gone = cluster.put(claim("gone", request="3Gi", created=clock.now - dt.timedelta(seconds=300)))
    cluster.delete(key_of(gone))  # bound and deleted while Shuttle was away: never seen
    again = usage_agent(tmp_path, cluster, source, clock)
    _step(again, clock, 60)
    assert claim_byte_seconds(source.usage.values()) == {
        data["metadata"]["uid"]: ((_last_end(source) - START).total_seconds(), GIB)
    }
