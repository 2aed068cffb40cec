"""The two servers the cluster-port contract runs against, behind one small interface: the
Kubernetes test server (the fast default) and the real kube-apiserver with etcd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kubernetes.client import Configuration
from tests.envtest.control_plane import ControlPlane
from tests.envtest.crd import install_gateway_api_crd, uninstall_gateway_api_crd
from tests.envtest.raw import RawClient

from starform_testkit.kube_testserver import KubeTestServer

__all__ = ["Backend", "RealServer", "TestServer"]


class Backend(Protocol):
    """What a contract test needs from a server besides its HTTP API."""

    name: str

    def configuration(self) -> Configuration:
        """A new client configuration for the server."""
        ...

    def install_gateway_api(self) -> None:
        """Install the HTTPRoute CRD and wait until it is served."""
        ...

    def uninstall_gateway_api(self) -> None:
        """Remove the HTTPRoute CRD and wait until it is not served."""
        ...

    def forget_watch_history(self, changes: Callable[[], None], *, plural: str = "configmaps") -> None:
        """Make the server lose the watch history a client resumes from (its watch of
        ``plural``), with ``changes`` (writes) happening while the client is away."""
        ...


class TestServer:
    """The Kubernetes test server, controllers off (a bare API server, as kube-apiserver alone is)."""

    name = "test-server"
    __test__ = False  # not a test class, despite the name

    def __init__(self, kube: KubeTestServer) -> None:
        self.kube = kube

    def configuration(self) -> Configuration:
        """A configuration for the server's URL."""
        return self.kube.kube_config()

    def install_gateway_api(self) -> None:
        """Serve HTTPRoutes."""
        self.kube.install_gateway_api_crd()

    def uninstall_gateway_api(self) -> None:
        """Stop serving HTTPRoutes."""
        self.kube.uninstall_gateway_api_crd()

    def forget_watch_history(self, changes: Callable[[], None], *, plural: str = "configmaps") -> None:
        """Keep two events only, hold the client's next watch of ``plural`` while ``changes``
        happen (more than two), so the resume asks for a version that is gone."""
        self.kube.set_watch_history(2)
        try:
            self.kube.inject(
                "delay", verbs=["watch"], path_pattern=f"/{plural}", delay_seconds=1.5, max_times=1
            )
            self.kube.kill_watches()
            changes()
        finally:
            self.kube.set_watch_history(10_000)


class RealServer:
    """kube-apiserver and etcd (tests/envtest), shared by the session."""

    name = "kube-apiserver"

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def configuration(self) -> Configuration:
        """A configuration loaded from the control plane's kubeconfig (TLS, bearer token)."""
        return self.plane.configuration()

    def _raw(self) -> RawClient:
        return RawClient(self.configuration())

    def install_gateway_api(self) -> None:
        """Apply the CRD and wait until it is Established and discovered."""
        raw = self._raw()
        try:
            install_gateway_api_crd(raw)
        finally:
            raw.close()

    def uninstall_gateway_api(self) -> None:
        """Delete the CRD and wait until the kind is gone."""
        raw = self._raw()
        try:
            uninstall_gateway_api_crd(raw)
        finally:
            raw.close()

    def forget_watch_history(self, changes: Callable[[], None], *, plural: str = "configmaps") -> None:
        """Restart kube-apiserver (every watch must resume, ``plural``'s too): its watch cache
        starts again from etcd's current revision, so
        a client resuming from an older version is told ``410 Gone``. An unrelated write first
        moves etcd's revision past what the client saw; ``changes`` happen after the restart."""
        raw = self._raw()
        try:
            raw.request(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                body={"metadata": {"generateName": "revision-bump-"}, "data": {"a": "b"}},
            ).expect(201)
        finally:
            raw.close()
        self.plane.restart_apiserver()
        changes()
