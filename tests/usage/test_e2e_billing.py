"""End to end: Shuttle's usage snapshots billed by a real Starbase, exactly, through an outage,
a SIGKILL and a restart.

One simulated clock drives all three: Starbase (in this process), the Kubernetes test server (its
controllers start the Deployments' pods at its time) and Shuttle, run as a process
(``tests.usage.harness``: ``shuttle run``'s wiring, its clock read from a file). Shuttle applies
the tenant's services, rolls them out twice, loses Starbase for 20 minutes (the door closes),
is SIGKILLed in the middle of the outage and restarted 7 minutes later, and stops with SIGTERM.
Starbase's running totals must equal, to the microsecond, the time the test server ran each
service's pods between the first window's start and the last window's end, and the GiB-time its
volume claim (one service has a volume) was held bound at its capacity: nothing lost, nothing
counted twice.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.door import Door
from tests.shuttle.cli import free_port, gateway_kube, sample, wait_until
from tests.shuttle.tenant import Tenant, image, make_tenant, ok

from starform_core.billing import BillingMonth
from starform_core.kube.labels import LABEL_SERVICE_ID
from starform_core.quantity import parse_quantity
from starform_core.usage import grid_floor
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase, running_starbase

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 11, 20, 10, 0, 7, tzinfo=dt.UTC)
"""In the past: Starbase takes agents' reports from the past, not from more than 5 minutes ahead."""
MINUTE = dt.timedelta(seconds=60)
ROOT = Path(__file__).resolve().parents[2]


class SimTime:
    """The one clock: Starbase's, the test server's and Shuttle's (a file it reads)."""

    def __init__(self, kube: KubeTestServer, path: Path) -> None:
        self.now = START
        self.kube = kube
        self.path = path
        self._write()

    def __call__(self) -> dt.datetime:
        return self.now

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.now.isoformat())
        tmp.replace(self.path)  # atomic: Shuttle never reads half a time
        self.kube.clock.set(self.now)

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self._write()
        self.kube.advance_clock(0)


class Truth:
    """The running pods of each service as the test server shows them, sampled after each change
    (the clock stands still meanwhile): ``[first seen running, first seen gone)``."""

    def __init__(self, kube: KubeTestServer, clock: SimTime) -> None:
        self.kube, self.clock = kube, clock
        self.spans: dict[str, list[dt.datetime | str | None]] = {}

    def running(self) -> dict[str, str]:
        return {
            p["metadata"]["uid"]: p["metadata"]["labels"][LABEL_SERVICE_ID]
            for p in self.kube.list("v1", "Pod")
            if (p.get("status") or {}).get("phase") == "Running"
            and LABEL_SERVICE_ID in (p["metadata"].get("labels") or {})
        }

    def sample(self) -> int:
        running = self.running()
        for uid, service in running.items():
            self.spans.setdefault(uid, [self.clock.now, None, service])
        for uid, span in self.spans.items():
            if uid not in running and span[1] is None:
                span[1] = self.clock.now
        return len(running)

    def microseconds(self, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
        totals: dict[str, int] = {}
        for since, until, service in self.spans.values():
            assert isinstance(since, dt.datetime) and isinstance(service, str)
            lo, hi = max(since, start), min(until if isinstance(until, dt.datetime) else end, end)
            if lo < hi:
                totals[service] = totals.get(service, 0) + (hi - lo) // dt.timedelta(microseconds=1)
        return totals


class Agent:
    """``tests.usage.harness`` as a process."""

    def __init__(self, tenant: Tenant, door: Door, kubeconfig: Path, work: Path) -> None:
        self.tenant, self.door, self.kubeconfig, self.work = tenant, door, kubeconfig, work
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.runs = 0

    def start(self) -> None:
        self.port = free_port()
        self.runs += 1
        args = [
            sys.executable, "-m", "tests.usage.harness",
            "--starbase-url", self.door.url,
            "--cluster-id", self.tenant.cluster_id,
            "--kubeconfig", str(self.kubeconfig),
            "--state-dir", str(self.work / "state"),
            "--clock-file", str(self.work / "clock"),
            "--metrics-port", str(self.port),
        ]  # fmt: skip
        env = {**os.environ, "SHUTTLE_TOKEN": self.tenant.agent_token, "PYTHONPATH": str(ROOT)}
        log = (self.work / f"shuttle-{self.runs}.log").open("wb")
        self.process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=log)
        wait_until(
            lambda: self.metric("shuttle_usage_window_end_timestamp_seconds") is not None, "Shuttle up"
        )

    def metric(self, name: str, **labels: str) -> float | None:
        assert self.process is not None
        assert self.process.poll() is None, (self.work / f"shuttle-{self.runs}.log").read_text()[-3000:]
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        return sample(text, name, **labels)

    def kill(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        assert self.process.wait(timeout=60) == (0 if sig == signal.SIGTERM else -sig)

    def windows_to(self, when: dt.datetime) -> None:
        """Wait until Shuttle has written the windows up to the last grid point before ``when``."""
        goal = grid_floor(when, MINUTE).timestamp()
        wait_until(lambda: self.metric("shuttle_usage_window_end_timestamp_seconds") == goal, "the windows")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[RunningStarbase, KubeTestServer, SimTime]]:
    with gateway_kube() as kube:
        clock = SimTime(kube, tmp_path / "clock")
        with running_starbase(clock=clock) as starbase:
            yield starbase, kube, clock


def _backdate_plan(starbase: RunningStarbase, tenant: Tenant) -> None:
    """The project was created now (PostgreSQL's clock): put its plan period back before START,
    as if it had been created then (time before a project's plan period is not billed)."""
    import psycopg

    with psycopg.connect(starbase.starbase.database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE billing_plan_periods SET during = tstzrange(%s, upper(during)) WHERE project_id = %s",
            (START - dt.timedelta(days=1), tenant.project_id),
        )


class HeldClaims:
    """The bound claims as the test server shows them, sampled with the pods: uid to
    ``[first seen bound, capacity in bytes]`` (no claim is deleted in this run)."""

    def __init__(self, kube: KubeTestServer, clock: SimTime) -> None:
        self.kube, self.clock = kube, clock
        self.held: dict[str, tuple[dt.datetime, int, str]] = {}

    def sample(self) -> None:
        for c in self.kube.list("v1", "PersistentVolumeClaim"):
            if (c.get("status") or {}).get("phase") == "Bound":
                capacity = int(parse_quantity(c["status"]["capacity"]["storage"]))
                service = c["metadata"]["labels"][LABEL_SERVICE_ID]
                self.held.setdefault(c["metadata"]["uid"], (self.clock.now, capacity, service))

    def byte_microseconds(self, end: dt.datetime) -> dict[str, int]:
        return {
            service: capacity * ((end - since) // dt.timedelta(microseconds=1))
            for since, capacity, service in self.held.values()
        }


def _converged(tenant: Tenant, truth: Truth, agent: Agent, pods: int) -> None:
    """Shuttle applied the latest generation, the server runs ``pods`` pods, the watch sees them."""
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the apply")
    wait_until(lambda: len(truth.running()) == pods, f"{pods} running pods")
    wait_until(lambda: agent.metric("shuttle_usage_pods_tracked") == pods, "the pod watch")
    truth.sample()


def _run_for(clock: SimTime, agent: Agent, minutes: int, *, delivered: bool = True) -> None:
    for _ in range(minutes // 2):
        clock.advance(120)
        agent.windows_to(clock.now)
    if delivered:
        wait_until(lambda: agent.metric("shuttle_outbox_depth", kind="usage") == 0, "the snapshots sent")


def test_billed_pod_time_equals_what_the_cluster_ran_through_an_outage_and_a_sigkill(
    world: tuple[RunningStarbase, KubeTestServer, SimTime], tmp_path: Path
) -> None:
    starbase, kube, clock = world
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        tenant = make_tenant(starbase, http, services=3)
        ok(
            http.post(
                f"/v1/services/{tenant.service_ids[2]}/volumes",
                headers=tenant.owner_auth,
                json={"name": "data", "mount_path": "/data", "size": "10Gi"},
            ),
            201,
        )
        _backdate_plan(starbase, tenant)
        door = Door(starbase)
        agent = Agent(tenant, door, kube.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path)
        truth, claims = Truth(kube, clock), HeldClaims(kube, clock)
        agent.start()
        first_start = clock.now.replace(microsecond=0)
        try:
            _converged(tenant, truth, agent, 3)
            claims.sample()
            wait_until(lambda: agent.metric("shuttle_usage_claims_held") == 1, "the claim watch")
            _run_for(clock, agent, 10)
            tenant.deploy(tenant.service_ids[0], image(900))  # a rollout: a new pod, the old one goes
            _converged(tenant, truth, agent, 3)
            _run_for(clock, agent, 6)
            door.close()  # Starbase away for 20 minutes
            _run_for(clock, agent, 10, delivered=False)
            assert (agent.metric("shuttle_outbox_depth", kind="usage") or 0) >= 5  # a window per step
            assert (agent.metric("shuttle_usage_snapshots_failed_total", reason="unavailable") or 0) > 0
            agent.kill(signal.SIGKILL)  # in the middle of the outage, mid-window
            clock.advance(7 * 60 + 13)  # away for 7 minutes; the cluster runs on
            truth.sample()
            agent.start()
            _run_for(clock, agent, 4, delivered=False)
            door.open()
            _run_for(clock, agent, 6)
            tenant.deploy(tenant.service_ids[1], image(901))
            _converged(tenant, truth, agent, 3)
            clock.advance(95)
            agent.kill(signal.SIGTERM)  # a graceful stop closes the window under way
        finally:
            if agent.process is not None and agent.process.poll() is None:
                agent.process.kill()
            door.close()
        with sqlite3.connect(tmp_path / "state" / "state.db") as db:
            (last_end,) = db.execute("SELECT window_end FROM usage_window").fetchone()
            (waiting,) = db.execute("SELECT count(*) FROM outbox WHERE kind = 'usage'").fetchone()
        assert waiting == 0, "every snapshot was delivered before the stop"
        assert dt.datetime.fromisoformat(last_end) == clock.now, "the last window ends at the stop"
        billing = starbase.starbase.billing
        assert billing is not None
        project = http.get(f"/v1/projects/{tenant.project_id}", headers=tenant.owner_auth).json()
        billed: dict[str, int] = {}
        stored: dict[str, int] = {}
        for month in {BillingMonth(t.year, t.month) for t in (first_start, clock.now)}:
            for key, quantity in billing.ledger.usage_totals(project["workspace_id"], month).items():
                billed[key.tenant.service_id] = billed.get(key.tenant.service_id, 0) + quantity.pod_us
                if quantity.storage_byte_us:
                    service = key.tenant.service_id
                    stored[service] = stored.get(service, 0) + quantity.storage_byte_us
        expected = truth.microseconds(first_start, clock.now)
        assert len(truth.spans) == 5, "three pods, two replaced by rollouts"
        assert billed == expected
        assert len(claims.held) == 1 and first_start == START.replace(microsecond=0)
        assert stored == claims.byte_microseconds(clock.now), "the volume's GiB-time, exactly"
