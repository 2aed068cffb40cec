"""Fixtures for Shuttle's tests: one real Starbase (over real PostgreSQL) for the directory, and
a Kubernetes test server per test with the Gateway API and the gateway's load balancer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.shuttle.cli import Cli, cli_runners, gateway_kube

from starform_testkit.kube_testserver import KubeTestServer
from starform_testkit.starbase import RunningStarbase, running_starbase


@pytest.fixture(scope="session")
def starbase() -> Iterator[RunningStarbase]:
    """A Starbase on 127.0.0.1 over an embedded PostgreSQL; tests isolate by registering clusters."""
    with running_starbase() as running:
        yield running


@pytest.fixture
def http(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def kube() -> Iterator[KubeTestServer]:
    """A Kubernetes test server with the Gateway API CRD and the gateway's LoadBalancer Service."""
    with gateway_kube() as server:
        yield server


@pytest.fixture
def cli_factory(kube: KubeTestServer, tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """Build :class:`Cli` runners; every process they started is killed at the end."""
    with cli_runners(kube, tmp_path) as factory:
        yield factory
