"""Fixtures for Shuttle end-to-end tests: the Kubernetes test server and a wired Shuttle."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.door import Door
from tests.shuttle.cli import Cli, cli_runners, gateway_kube

from starform_adapters.starbase import InMemorySource
from starform_apps.shuttle import Shuttle, ShuttleConfig, build_shuttle
from starform_core.payload import DesiredState, example_payload
from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.postgres import postgres_server
from starform_testkit.starbase import RunningStarbase, running_starbase

LB_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "envoy-starform-gateway", "namespace": "envoy-gateway-system"},
    "spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443, "targetPort": 10443}]},
}


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    """A Kubernetes test server with the Gateway API installed and the gateway's LB Service."""
    with KubeTestServer() as server:
        server.install_gateway_api_crd()
        server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}})
        server.apply_as("envoy-gateway", LB_SERVICE)
        yield server


@pytest.fixture
def source() -> InMemorySource:
    """Starbase, in memory, serving the example payload."""
    return InMemorySource(example_payload())


ShuttleFactory = Callable[..., Shuttle]


@pytest.fixture
def make_shuttle(kube: KubeTestServer, tmp_path: Path) -> Iterator[ShuttleFactory]:
    """Build and start Shuttles against ``kube``; every one is stopped at the end."""
    started: list[Shuttle] = []

    def factory(source: Any, *, state_dir: Path | None = None) -> Shuttle:
        config = ShuttleConfig(
            starbase_url="http://starbase.invalid",
            cluster_id=example_payload().cluster.cluster_id,
            token="not-used-by-the-in-memory-source",
            state_dir=state_dir or tmp_path / "state",
            interval=30.0,
            workers=4,
        )
        agent = build_shuttle(config, kube_configuration=kube.kube_config(), source=source, serve_ops=False)
        agent.start(sync_timeout=10)
        started.append(agent)
        return agent

    yield factory
    for agent in started:
        agent.stop()


def payload_without(document: DesiredState, service_name: str) -> DesiredState:
    """``document`` with every service called ``service_name`` removed (and a newer generation)."""
    import attrs

    projects = [
        attrs.evolve(p, services=tuple(s for s in p.services if s.name != service_name))
        for p in document.projects
    ]
    return attrs.evolve(document, projects=tuple(projects), generation=document.generation + 1)


KEY = base64.b64encode(b"e2e-test-encryption-key-32-bytes").decode()
"""The encryption key of the end-to-end Starbase (the ``starbase`` CLI needs it with DATABASE_URL)."""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL server for the session's Starbases."""
    with postgres_server() as url:
        yield url


@pytest.fixture
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """A Starbase over a fresh database of its own (a test may restore it from a dump)."""
    with running_starbase(server_url=pg_server, encryption_key=KEY) as running:
        yield running


@pytest.fixture
def http(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def tenant_kube() -> Iterator[KubeTestServer]:
    """A Kubernetes test server with the Gateway API and the tenants' load-balancer Service."""
    with gateway_kube() as server:
        yield server


@pytest.fixture
def door(starbase: RunningStarbase) -> Iterator[Door]:
    """A second listener of the Starbase app on a port of its own, which the test can close."""
    opened = Door(starbase)
    yield opened
    opened.close()


@pytest.fixture
def cli_factory(tenant_kube: KubeTestServer, tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """``shuttle`` runners against ``tenant_kube``; every process they started is killed at the end."""
    with cli_runners(tenant_kube, tmp_path) as factory:
        yield factory
