"""Usage snapshots from the real Kubernetes adapter's pod and claim watches against the Kubernetes
test server (its controllers run Deployments' pods and bind claims): scale-ups, scale-downs and a
rollout on the server's clock, claims bound and deleted; the snapshots bill each pod
exactly the time the server ran it and each claim exactly the time the server held it bound, at
its capacity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from tests.envtest.waiting import wait_until
from tests.usage.agents import CLUSTER_ID
from tests.usage.claims import claim_byte_seconds
from tests.usage.pods import billed_seconds, tenant_labels

from starform_adapters.kubernetes import KubernetesCluster
from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle import Shuttle, ShuttleConfig, bootstrap
from starform_core.payload import example_payload
from starform_core.quantity import parse_quantity
from starform_testkit.kube_testserver import KubeTestServer

NS = "p-usage"


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    with KubeTestServer(controllers=True) as server:
        server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        yield server


def _deployment(replicas: int, image: str = "nginx:1.27") -> dict[str, object]:
    labels = {**tenant_labels(), "app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "resources": {"requests": {"cpu": "300m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }


class Truth:
    """The server's running pods, sampled after every change (its clock stands still meanwhile)."""

    def __init__(self, kube: KubeTestServer) -> None:
        self.kube = kube
        self.since: dict[str, float] = {}
        self.until: dict[str, float] = {}

    def running(self) -> set[str]:
        return {
            p["metadata"]["uid"]
            for p in self.kube.list("v1", "Pod", namespace=NS)
            if (p.get("status") or {}).get("phase") == "Running"
        }

    def sample(self) -> set[str]:
        now = self.kube.clock.now().timestamp()
        running = self.running()
        for uid in running - self.since.keys():
            self.since[uid] = now
        for uid in self.since.keys() - running - self.until.keys():
            self.until[uid] = now
        return running

    def seconds(self, start: float, end: float) -> dict[str, float]:
        spans = {
            uid: min(self.until.get(uid, end), end) - max(since, start) for uid, since in self.since.items()
        }
        return {uid: span for uid, span in spans.items() if span > 0}


@pytest.fixture
def agent(kube: KubeTestServer, tmp_path: Path) -> Iterator[tuple[Shuttle, InMemorySource]]:
    cluster = KubernetesCluster(kube.kube_config())
    source = InMemorySource(example_payload())
    config = ShuttleConfig(
        starbase_url="http://starbase.invalid", cluster_id=CLUSTER_ID, token="x", state_dir=tmp_path / "state"
    )
    shuttle = bootstrap(
        config,
        cluster=cluster,
        source=source,
        serve_ops=False,
        now=kube.clock.now,
        pods=cluster,
        claims=cluster,
        usage_sink=source,
    )
    assert cluster.start(sync_timeout=30)
    assert shuttle.usage is not None
    shuttle.usage.begin()
    yield shuttle, source
    shuttle.stop(grace_seconds=1)


def test_each_pod_the_server_ran_is_billed_exactly_its_running_time(
    kube: KubeTestServer, agent: tuple[Shuttle, InMemorySource]
) -> None:
    shuttle, source = agent
    assert shuttle.usage is not None
    truth = Truth(kube)
    start = kube.clock.now().replace(microsecond=0).timestamp()

    def settle() -> None:
        running = truth.sample()
        wait_until(
            lambda: shuttle.metrics.usage.pods_tracked._value.get() == len(running),
            timeout=10,
            message="the pod watch to see the change",
        )

    def advance(seconds: int) -> None:
        for _ in range(seconds // 20):
            kube.advance_clock(20)
            shuttle.usage.tick()  # type: ignore[union-attr]
            shuttle.drain(budget_seconds=5)

    kube.apply_as("shuttle", _deployment(3))
    settle()
    advance(140)
    kube.apply_as("shuttle", _deployment(1))
    settle()
    advance(100)
    kube.apply_as("shuttle", _deployment(2, image="nginx:1.28"))  # a rollout: new pods, old ones go
    settle()
    advance(200)
    end = max(s["window"]["end"] for s in source.usage.values())
    assert len(truth.since) >= 5, truth.since
    assert billed_seconds(source.usage.values()) == truth.seconds(
        start, datetime.fromisoformat(end).timestamp()
    )


def _claim(name: str, size: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": NS, "labels": tenant_labels()},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


class HeldClaims(Truth):
    """The server's bound claims, sampled after every change."""

    def running(self) -> set[str]:
        return {
            c["metadata"]["uid"]
            for c in self.kube.list("v1", "PersistentVolumeClaim", namespace=NS)
            if (c.get("status") or {}).get("phase") == "Bound"
        }


def test_each_claim_the_server_bound_is_billed_exactly_its_bound_time_and_capacity(
    kube: KubeTestServer, agent: tuple[Shuttle, InMemorySource]
) -> None:
    shuttle, source = agent
    usage = shuttle.usage
    assert usage is not None
    truth = HeldClaims(kube)
    start = kube.clock.now().replace(microsecond=0).timestamp()

    def settle() -> None:
        held = truth.sample()
        wait_until(
            lambda: shuttle.metrics.usage.claims_held._value.get() == len(held),
            timeout=10,
            message="the claim watch to see the change",
        )

    def advance(seconds: int) -> None:
        for _ in range(seconds // 20):
            kube.advance_clock(20)
            usage.tick()
            shuttle.drain(budget_seconds=5)

    kube.apply_as("shuttle", _claim("data", "10Gi"))  # the server's binder binds it at once
    kube.apply_as("shuttle", _claim("cache", "1Gi"))
    settle()
    advance(140)
    kube.delete("v1", "PersistentVolumeClaim", "data", namespace=NS)
    settle()
    advance(100)
    kube.apply_as("shuttle", _claim("logs", "512Mi"))
    settle()
    advance(100)
    end = datetime.fromisoformat(max(s["window"]["end"] for s in source.usage.values())).timestamp()
    held = truth.seconds(start, end)
    sizes = {
        c["metadata"]["uid"]: c["status"]["capacity"]["storage"]
        for c in kube.list("v1", "PersistentVolumeClaim", namespace=NS)
    }
    assert len(held) == 3 and len(sizes) == 2
    billed = claim_byte_seconds(source.usage.values())
    assert {uid: seconds for uid, (seconds, _) in billed.items()} == held
    assert {uid: size for uid, (_, size) in billed.items() if uid in sizes} == {
        uid: int(parse_quantity(size)) for uid, size in sizes.items()
    }
