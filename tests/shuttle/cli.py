"""Run the ``shuttle`` command as a user does: subprocesses against a real Starbase and the
Kubernetes test server, with their output captured in files."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from tests.shuttle.tenant import LB_NAMESPACE, LB_SERVICE, Tenant

from starform_core.kube.labels import OWNERSHIP_SELECTOR
from starform_core.kube.objects import key_of
from starform_core.payload import parse_payload
from starform_core.render import render
from starform_testkit.kube_testserver import KubeTestServer

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
    """A port nothing listens on (a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every log line parsed (each must be JSON)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Cli:
    """Runs ``shuttle`` for one tenant against one Kubernetes test server."""

    def __init__(
        self,
        tenant: Tenant,
        kube: KubeTestServer,
        tmp_path: Path,
        *,
        state: str = "state",
        starbase_url: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.starbase_url = starbase_url or tenant.sb.base_url
        self.kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        self.state_dir = tmp_path / state
        self.logs = tmp_path / f"logs-{state}"
        self.logs.mkdir(exist_ok=True)
        self.started: list[subprocess.Popen[bytes]] = []

    def args(self, command: str, *extra: str, state: bool = True) -> list[str]:
        base = [
            SHUTTLE,
            command,
            "--starbase-url",
            self.starbase_url,
            "--cluster-id",
            self.tenant.cluster_id,
            "--kubeconfig",
            str(self.kubeconfig),
        ]
        if state and command != "plan":
            base += ["--state-dir", str(self.state_dir)]
        return [*base, *extra]

    def env(self, token: str | None = None) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SHUTTLE_", "KUBECONFIG", "STARBASE_"))
        }
        env["SHUTTLE_TOKEN"] = token or self.tenant.agent_token
        return env

    def run(
        self, command: str, *extra: str, token: str | None = None, args: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args or self.args(command, *extra),
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

    def reconciles(self, process: subprocess.Popen[bytes]) -> int:
        """How many reconciles the process logged so far."""
        return self.stderr(process).count('"event": "reconciled"')

    def stop(self, process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> int:
        process.send_signal(sig)
        return process.wait(timeout=DEADLINE)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=DEADLINE)


def desired_keys(tenant: Tenant) -> set[Key]:
    """Every object the tenant's current payload renders."""
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


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition (``None`` when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return None


@contextmanager
def gateway_kube() -> Iterator[KubeTestServer]:
    """A Kubernetes test server with the Gateway API CRD and the tenants' load-balancer Service."""
    with KubeTestServer() as server:
        server.install_gateway_api_crd()
        server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LB_NAMESPACE}})
        server.apply_as("envoy-gateway", LB_SERVICE)
        yield server


@contextmanager
def cli_runners(kube: KubeTestServer, tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """A factory of :class:`Cli` runners; every process they started is killed on exit."""
    made: list[Cli] = []

    def factory(tenant: Tenant, **options: Any) -> Cli:
        cli = Cli(tenant, kube, tmp_path, **options)
        made.append(cli)
        return cli

    try:
        yield factory
    finally:
        for cli in made:
            cli.stop_all()
