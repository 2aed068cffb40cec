"""Pytest fixtures over the backends: one registry process of each kind per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .backends import Backend, distribution_backend, memory_backend


@pytest.fixture(scope="session")
def distribution_open(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real registry without authentication."""
    with distribution_backend(Path(tmp_path_factory.mktemp("registry-open")), "open") as found:
        yield found


@pytest.fixture(scope="session")
def distribution_basic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real registry behind htpasswd (basic) authentication."""
    with distribution_backend(Path(tmp_path_factory.mktemp("registry-basic")), "basic") as found:
        yield found


@pytest.fixture(scope="session")
def distribution_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A real registry behind token authentication, with its token server."""
    with distribution_backend(Path(tmp_path_factory.mktemp("registry-token")), "token") as found:
        yield found


@pytest.fixture(params=["distribution", "memory"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each open backend in turn: the real registry, the double."""
    if request.param == "distribution":
        found: Backend = request.getfixturevalue("distribution_open")
        return found
    return memory_backend(secured=False)


@pytest.fixture(params=["distribution-basic", "distribution-token", "memory-auth"])
def secured_backend(request: pytest.FixtureRequest) -> Backend:
    """Each authenticating backend in turn."""
    if request.param == "memory-auth":
        return memory_backend(secured=True)
    found: Backend = request.getfixturevalue(request.param.replace("-", "_"))
    return found


@pytest.fixture(params=["distribution-token", "memory-auth"])
def public_backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend letting anonymous clients pull public repositories (htpasswd cannot)."""
    if request.param == "memory-auth":
        return memory_backend(secured=True)
    found: Backend = request.getfixturevalue("distribution_token")
    return found
