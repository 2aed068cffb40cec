"""pytest plumbing for the real control plane: build the servers once, before the tests that need
them run (a first build takes minutes, longer than one test may), and start one etcd plus
kube-apiserver per session. A build that fails fails those tests; nothing is skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.envtest.build import ServerBuildError, build_servers
from tests.envtest.control_plane import ControlPlane
from tests.envtest.crd import install_gateway_api_crd
from tests.envtest.raw import RawClient

__all__ = ["REAL_SERVER_FIXTURES", "REAL_SERVER_MARK", "ensure_servers_built", "start_control_plane"]

REAL_SERVER_FIXTURES = frozenset({"kube_apiserver", "own_kube_apiserver"})
"""The fixtures (tests/conftest.py) every real-server test depends on, directly or not."""

REAL_SERVER_MARK = "real_kube_apiserver"
"""Marks a test that reaches the real server through a fixture it requests at run time (the
contract suite's ``backend`` parameter)."""


def _needs_servers(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(REAL_SERVER_FIXTURES & names) or item.get_closest_marker(REAL_SERVER_MARK) is not None


_BUILT = pytest.StashKey[Path | ServerBuildError]()


def ensure_servers_built(session: pytest.Session) -> None:
    """Build (or reuse) the servers when a collected test needs them; remember the outcome."""
    if not any(_needs_servers(item) for item in session.items):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("envtest: building (or reusing) etcd and kube-apiserver (tools/envtest/build.sh)")
    try:
        session.config.stash[_BUILT] = build_servers()
    except ServerBuildError as exc:
        session.config.stash[_BUILT] = exc


def _bin_dir(config: pytest.Config) -> Path:
    built = config.stash.get(_BUILT, None)
    if built is None:  # collected without the hook (a plugin ran the test by itself)
        try:
            built = build_servers()
        except ServerBuildError as exc:
            built = exc
    if isinstance(built, ServerBuildError):
        pytest.fail(f"the real kube-apiserver cannot be built: {built}", pytrace=False)
    return built


def start_control_plane(
    config: pytest.Config, work_dir: Path, *, gateway_api: bool
) -> Iterator[ControlPlane]:
    """Start a control plane (the Gateway API CRD installed when asked); stop it afterwards."""
    plane = ControlPlane(_bin_dir(config), work_dir)
    plane.start()
    try:
        if gateway_api:
            raw = RawClient(plane.configuration())
            try:
                install_gateway_api_crd(raw)
            finally:
                raw.close()
        yield plane
    finally:
        plane.stop()
