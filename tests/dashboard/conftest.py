"""Fixtures of the dashboard tests: the demo's world (PostgreSQL, Starbase, the Kubernetes test
server, Shuttle) with the demo's tenants converged, and a headless chromium."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver
from tests.dashboard.browser import headless_chromium
from tests.dashboard.sse import QUICK_STREAMS

from starform_apps.demo import LocalStarform, open_local_starform
from starform_apps.demo.timeline import Timeline
from starform_apps.demo.walkthrough import set_up_tenants
from starform_testkit.postgres import postgres_server
from starform_testkit.starbase import RunningStarbase, running_starbase


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL server for the session's Starbases (a fresh database each)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """A Starbase of the module's own over a fresh database (no Kubernetes, no Shuttle)."""
    with running_starbase(server_url=pg_server, stream_limits=QUICK_STREAMS) as running:
        yield running


@pytest.fixture(scope="module")
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the module's Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
def world() -> Iterator[LocalStarform]:
    """The demo's platform: a registered cluster and its Shuttle (driven by the tests)."""
    with open_local_starform() as opened:
        opened.register_cluster()
        opened.start_shuttle()
        yield opened


@pytest.fixture(scope="module")
def tenants(world: LocalStarform) -> dict[str, Any]:
    """The demo's project, environments, var groups and services, converged and healthy."""
    made = set_up_tenants(world, Timeline(io.StringIO()))
    world.converge()
    world.wait_healthy([s["id"] for s in made["services"].values()])
    return made


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless chromium for the module (a fresh profile)."""
    profile: Path = tmp_path_factory.mktemp("chromium-profile")
    with headless_chromium(profile) as driver:
        yield driver
