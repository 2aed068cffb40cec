"""A Shuttle on the shipped doubles with a simulated clock, for the usage tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from starform_adapters.starbase import InMemorySource
from starform_adapters.testing import FakeCluster
from starform_apps.shuttle import Shuttle, ShuttleConfig, bootstrap
from starform_core.payload import example_payload

CLUSTER_ID = example_payload().cluster.cluster_id


class SimClock:
    """Wall time that moves only when the test moves it."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


def usage_agent(
    state_dir: Path, cluster: FakeCluster, source: InMemorySource, clock: SimClock, *, interval: float = 60.0
) -> Shuttle:
    """A Shuttle whose usage reporter has begun (its loop is not running; tests call ``tick``)."""
    config = ShuttleConfig(
        starbase_url="http://starbase.invalid",
        cluster_id=CLUSTER_ID,
        token="not-used",
        state_dir=state_dir,
        usage_interval=interval,
    )
    agent = bootstrap(
        config,
        cluster=cluster,
        source=source,
        serve_ops=False,
        now=clock,
        pods=cluster,
        usage_sink=source,
        claims=cluster,
    )
    assert agent.usage is not None
    agent.usage.begin()
    return agent
