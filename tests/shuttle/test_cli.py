"""The ``shuttle`` command as a user runs it: a subprocess against a real Starbase and the
Kubernetes test server (``once``, ``plan``, ``run`` with SIGTERM, and SIGKILL mid-apply)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.shuttle.tenant import LB_NAME, LB_NAMESPACE, Tenant, make_tenant

from starform_core.kube.labels import OWNERSHIP_SELECTOR
from starform_core.kube.objects import key_of
from starform_core.payload import parse_payload
from starform_core.render import render
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase

SHUTTLE = str(Path(sys.executable).parent / "shuttle")
DEADLINE = 90.0

Key = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name)."""


def wait_until(predicate: Callable[[], bool], what: str, *, timeout: float = DEADLINE) -> None:
    """Poll a condition another process makes true, failing after a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cli:
    """Runs ``shuttle`` for one tenant against one Kubernetes test server."""

    def __init__(self, tenant: Tenant, kube: KubeTestServer, tmp_path: Path) -> None:
        self.tenant = tenant
        self.kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        self.state_dir = tmp_path / "state"
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.started: list[subprocess.Popen[bytes]] = []

    def args(self, command: str, *extra: str) -> list[str]:
        return [
            SHUTTLE,
            command,
            "--starbase-url",
            self.tenant.sb.base_url,
            "--cluster-id",
            self.tenant.cluster_id,
            "--state-dir",
            str(self.state_dir),
            "--kubeconfig",
            str(self.kubeconfig),
            *extra,
        ]

    def env(self, token: str | None = None) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SHUTTLE_", "KUBECONFIG", "STARBASE_"))
        }
        env["SHUTTLE_TOKEN"] = token or self.tenant.agent_token
        return env

    def run(self, command: str, *extra: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args(command, *extra),
            env=self.env(token),
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )

    def start(self, command: str, *extra: str) -> subprocess.Popen[bytes]:
        n = len(self.started)
        process = subprocess.Popen(
            self.args(command, *extra),
            env=self.env(),
            stdout=(self.logs / f"{n}.out").open("wb"),
            stderr=(self.logs / f"{n}.err").open("wb"),
        )
        self.started.append(process)
        return process

    def stderr(self, process: subprocess.Popen[bytes]) -> str:
        return (self.logs / f"{self.started.index(process)}.err").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=DEADLINE)


@pytest.fixture
def cli_factory(kube: KubeTestServer, tmp_path: Path) -> Iterator[Callable[[Tenant], Cli]]:
    made: list[Cli] = []

    def factory(tenant: Tenant) -> Cli:
        cli = Cli(tenant, kube, tmp_path)
        made.append(cli)
        return cli

    yield factory
    for cli in made:
        cli.stop_all()


def desired_keys(tenant: Tenant) -> set[Key]:
    rendering = render(parse_payload(tenant.desired_state()))
    return {
        (key.api_version, key.kind, key.namespace, key.name)
        for key in (key_of(obj) for obj in rendering.objects)
    }


def owned(kube: KubeTestServer, kinds: set[tuple[str, str]]) -> dict[Key, dict[str, Any]]:
    """Every object carrying Shuttle's ownership labels, of the given (apiVersion, kind)s."""
    found: dict[Key, dict[str, Any]] = {}
    for api_version, kind in kinds:
        for obj in kube.list(api_version, kind, label_selector=OWNERSHIP_SELECTOR):
            meta = obj["metadata"]
            key = (api_version, kind, meta.get("namespace") or "", meta["name"])
            assert key not in found, f"{key} listed twice"
            found[key] = obj
    return found


def test_plan_lists_creates_then_once_converges_then_plan_is_clean(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[[Tenant], Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=3)
    cli = cli_factory(tenant)
    wanted = desired_keys(tenant)

    pending = cli.run("plan")
    assert pending.returncode == 2, pending.stderr
    lines = pending.stdout.splitlines()
    creates = [line for line in lines if line.startswith("create ")]
    assert len(creates) == len(wanted)
    assert any("Deployment.apps" in line and "svc-000-production" in line for line in creates)
    assert json.loads(lines[-1])["create"] == len(wanted)
    assert kube.requests.writes() == [], "plan is a dry run"

    converged = cli.run("once")
    assert converged.returncode == 0, converged.stderr
    report = json.loads(converged.stdout.splitlines()[-1])
    assert report["converged"] is True
    assert report["generation"] == tenant.desired_generation()
    assert report["plan"]["create"] == len(wanted)
    assert set(owned(kube, {(k[0], k[1]) for k in wanted})) == wanted
    lb = kube.get("v1", "Service", LB_NAME, namespace=LB_NAMESPACE)
    assert lb is not None
    assert "2" in lb["metadata"]["annotations"].values(), "the load balancer's size unit was set"
    assert tenant.applied_generation() == tenant.desired_generation(), "once reported to Starbase"

    clean = cli.run("plan")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout.splitlines()[-1]).get("create", 0) == 0
    assert not [line for line in clean.stdout.splitlines() if line.startswith(("create ", "update "))]


@pytest.mark.parametrize("command", ["plan", "once"])
def test_a_bad_token_exits_1_with_a_clear_message(
    starbase: RunningStarbase,
    http: httpx.Client,
    kube: KubeTestServer,
    cli_factory: Callable[[Tenant], Cli],
    command: str,
) -> None:
    tenant = make_tenant(starbase, http, services=1)
    cli = cli_factory(tenant)
    bad = "sfa_this-is-not-the-agent-token"
    result = cli.run(command, token=bad)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1, result.stderr
    assert "HTTP 40" in error_lines[0], error_lines[0]
    assert bad not in result.stderr + result.stdout
    assert kube.requests.writes() == []


def test_run_serves_probes_and_metrics_and_exits_0_on_sigterm(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[[Tenant], Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=2)
    cli = cli_factory(tenant)
    port = free_port()
    agent = cli.start("run", "--interval", "0.5", "--metrics-host", "127.0.0.1", "--metrics-port", str(port))
    ops = f"http://127.0.0.1:{port}"

    def answers(path: str, status: int = 200) -> bool:
        assert agent.poll() is None, cli.stderr(agent)
        try:
            return httpx.get(ops + path, timeout=5).status_code == status
        except httpx.TransportError:
            return False

    wait_until(lambda: answers("/readyz"), "/readyz")
    assert answers("/healthz")
    wait_until(lambda: tenant.applied_generation() == tenant.desired_generation(), "the applied generation")
    metrics = httpx.get(ops + "/metrics", timeout=5).text
    assert f"shuttle_applied_generation {float(tenant.desired_generation())}" in metrics
    assert "shuttle_starbase_reachable 1.0" in metrics

    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0, cli.stderr(agent)
    stderr = cli.stderr(agent)
    assert "Traceback" not in stderr
    assert all(json.loads(line) for line in stderr.splitlines() if line.strip()), "structured JSON logs"
    with pytest.raises(httpx.ConnectError):
        httpx.get(ops + "/healthz", timeout=5)


def test_killed_mid_apply_and_restarted_converges_without_duplicates(
    starbase: RunningStarbase, http: httpx.Client, kube: KubeTestServer, cli_factory: Callable[[Tenant], Cli]
) -> None:
    tenant = make_tenant(starbase, http, services=40)
    cli = cli_factory(tenant)
    wanted = desired_keys(tenant)
    kinds = {(k[0], k[1]) for k in wanted}
    assert len(wanted) > 100
    kube.inject("delay", delay_seconds=0.02, verbs=["patch"])  # keep the first apply in flight

    first = cli.start("run", "--interval", "30", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(lambda: len(kube.requests.writes()) >= 15 or first.poll() is not None, "the first writes")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    before = owned(kube, kinds)
    assert 0 < len(before) < len(wanted), f"killed after {len(before)} of {len(wanted)} objects"
    assert tenant.applied_generation() is None, "nothing reported as applied by the killed agent"

    kube.clear_faults()
    second = cli.start("run", "--interval", "30", "--metrics-host", "127.0.0.1", "--metrics-port", "0")
    wait_until(
        lambda: second.poll() is None and tenant.applied_generation() == tenant.desired_generation(),
        "the restarted agent to report the desired generation",
    )
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0, cli.stderr(second)

    after = owned(kube, kinds)
    assert set(after) == wanted, "every desired object exists, nothing extra"
    uids = [obj["metadata"]["uid"] for obj in after.values()]
    assert len(set(uids)) == len(uids)
    for key, obj in before.items():
        assert after[key]["metadata"]["uid"] == obj["metadata"]["uid"], f"{key} was recreated"
    deployments = [k for k in wanted if k[1] == "Deployment"]
    assert len(deployments) == 40
    for _, _, namespace, name in deployments:
        sets = [
            rs
            for rs in kube.list("apps/v1", "ReplicaSet", namespace=namespace)
            if any(ref["name"] == name for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        assert len(sets) == 1, f"{namespace}/{name} has {len(sets)} ReplicaSets"
    assert (cli.state_dir / "payload.json").exists()
