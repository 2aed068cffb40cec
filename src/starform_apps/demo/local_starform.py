"""A whole Starform in one process: embedded PostgreSQL, Starbase over HTTP, the Kubernetes test
server, and a Shuttle pointed at both. The demo's walkthrough runs on it; end-to-end tests too.

Everything listens on 127.0.0.1 and everything started is stopped when
:func:`open_local_starform` exits (Shuttle and the HTTP client by :meth:`LocalStarform.close`).
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from starform_adapters.postgres import VarCipher
from starform_apps.shuttle import Shuttle, ShuttleConfig, build_shuttle
from starform_apps.shuttle.reconciler import ReconcileResult
from starform_apps.starbase.server import ServerThread, Starbase, open_starbase
from starform_apps.starbase.tokens import mint_user_token
from starform_core.access import Actor
from starform_core.errors import StarformError
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.postgres import fresh_database, postgres_server

__all__ = ["GATEWAY_NAMESPACE", "LB_SERVICE", "LocalStarform", "open_local_starform"]

T = TypeVar("T")

GATEWAY_NAMESPACE = "envoy-gateway-system"
LB_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "envoy-starform-gateway", "namespace": GATEWAY_NAMESPACE},
    "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443, "targetPort": 10443}]},
}


class DemoError(StarformError):
    """A step of the local Starform failed (Starbase refused a request, a wait timed out)."""


class LocalStarform:
    """Handles on every part, plus small helpers to drive Starbase's API as a person would."""

    def __init__(self, *, starbase: Starbase, base_url: str, kube: KubeTestServer, state_dir: Path) -> None:
        self.starbase = starbase
        self.base_url = base_url
        self.kube = kube
        self.state_dir = state_dir
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.token = self._operator_token("operator@starform.io")
        self.cluster_id = ""
        self.agent_token = ""
        self.shuttle: Shuttle | None = None

    # people -------------------------------------------------------------------------------------
    def _operator_token(self, email: str) -> str:
        store = self.starbase.store
        return mint_user_token(store, store, email, operator=True, name="demo", actor=Actor(label="demo"))

    def call(self, method: str, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        """Call Starbase's API as the operator; raises :class:`DemoError` on an unexpected status."""
        response = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        if (expect is not None and response.status_code != expect) or response.status_code >= 400:
            raise DemoError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    # the cluster and its agent --------------------------------------------------------------------
    def register_cluster(self, name: str = "demo-1", *, size_unit: int = 2) -> str:
        """Register the test cluster with Starbase; keeps the id and the agent token."""
        registered = self.call(
            "POST",
            "/v1/clusters",
            {
                "name": name,
                "region": "fra1",
                "gateway_namespace": GATEWAY_NAMESPACE,
                "gateway_name": "starform-gateway",
                "gateway_section_name": "https",
                "lb_target_api_version": "v1",
                "lb_target_kind": "Service",
                "lb_target_namespace": GATEWAY_NAMESPACE,
                "lb_target_name": LB_SERVICE["metadata"]["name"],
                "lb_size_unit": size_unit,
            },
            expect=201,
        )
        self.cluster_id = str(registered["cluster"]["id"])
        self.agent_token = str(registered["agent_token"])
        return self.cluster_id

    def start_shuttle(self, *, interval: float = 30.0) -> Shuttle:
        """Build and start a Shuttle for the registered cluster (its loop is driven by the caller)."""
        config = ShuttleConfig(
            starbase_url=self.base_url,
            cluster_id=self.cluster_id,
            token=self.agent_token,
            state_dir=self.state_dir,
            interval=interval,
            metrics_port=0,
            workers=4,
        )
        self.shuttle = build_shuttle(config, kube_configuration=self.kube.kube_config(), serve_ops=True)
        self.shuttle.start(sync_timeout=10)
        return self.shuttle

    def reconcile(self) -> ReconcileResult:
        """One Shuttle reconcile."""
        if self.shuttle is None:
            raise DemoError("start Shuttle first")
        return self.shuttle.loop.run_once()

    def converge(self, *, attempts: int = 6) -> ReconcileResult:
        """Reconcile until a reconcile needed no action (or fail after ``attempts``)."""
        result = self.reconcile()
        for _ in range(attempts):
            if result.converged and (result.execution is None or not result.execution.outcomes):
                return result
            result = self.reconcile()
        raise DemoError("Shuttle did not converge")

    def wait_healthy(self, service_ids: list[str], *, timeout: float = 20.0) -> dict[str, str]:
        """Reconcile until Starbase shows every service healthy (health follows the watch cache)."""

        def all_healthy() -> dict[str, str] | None:
            self.reconcile()
            health = {sid: self.call("GET", f"/v1/services/{sid}/status")["health"] for sid in service_ids}
            return health if all(value == "healthy" for value in health.values()) else None

        return wait_until(all_healthy, timeout=timeout, what="every service healthy")

    def wait_cache(self, predicate: Callable[[list[Any]], bool], *, timeout: float = 10.0) -> None:
        """Wait until Shuttle's watch cache (fed by another thread) satisfies ``predicate``."""
        assert self.shuttle is not None
        wait_until(
            lambda: predicate(list(self.shuttle.cluster.live_objects())) if self.shuttle else False,
            timeout=timeout,
            what="Shuttle's watch cache",
        )

    def close(self) -> None:
        """Stop Shuttle and the HTTP client (the rest is stopped by :func:`open_local_starform`)."""
        if self.shuttle is not None:
            self.shuttle.stop()
            self.shuttle = None
        self.http.close()


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``predicate`` until it is truthy; raise :class:`DemoError` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(0.01)


@contextmanager
def open_local_starform(*, data_dir: Path | None = None) -> Iterator[LocalStarform]:
    """Start PostgreSQL (embedded, or ``DATABASE_URL``), Starbase, the Kubernetes test server."""
    with ExitStack() as stack:
        root = data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="starform-demo-")))
        server = stack.enter_context(postgres_server())
        database = stack.enter_context(fresh_database(server, prefix="starform_demo"))
        cipher = VarCipher.from_base64(base64.b64encode(os.urandom(32)).decode())
        starbase = stack.enter_context(open_starbase(database, cipher, pool_max_size=8))
        thread = ServerThread(starbase.app, on_stop=starbase.streams.close)
        base_url = thread.start()
        stack.callback(thread.stop)
        kube = stack.enter_context(KubeTestServer())
        kube.install_gateway_api_crd()
        kube.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}})
        kube.apply_as("envoy-gateway", LB_SERVICE)
        starform = LocalStarform(
            starbase=starbase, base_url=base_url, kube=kube, state_dir=root / "shuttle-state"
        )
        stack.callback(starform.close)
        yield starform
