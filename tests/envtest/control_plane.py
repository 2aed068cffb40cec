"""A real Kubernetes control plane for tests: etcd and kube-apiserver (built by
``tools/envtest/build.sh``) on free loopback ports, TLS with a generated certificate, a static
bearer token in ``system:masters``, as controller-runtime's envtest runs them.

No controller runs (no kube-controller-manager, no scheduler, no kubelet): the tests that need a
controller's writes make them through the API with the controller's own field manager.
"""

from __future__ import annotations

import functools
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from kubernetes.client import Configuration
from tests.envtest.pki import TEST_USER, Pki, write_pki
from tests.envtest.process import ServerExitedError, ServerProcess, free_port

from starform_adapters.kubernetes import load_configuration

__all__ = ["DISABLED_ADMISSION_PLUGINS", "ControlPlane"]

DISABLED_ADMISSION_PLUGINS = ("ServiceAccount", "ResourceQuota")
"""Admission plugins that only work with kube-controller-manager running: ``ServiceAccount``
needs the ``default`` ServiceAccount the token controller creates (envtest disables it too);
``ResourceQuota`` refuses every write counted by a quota whose status the quota controller has
not filled in yet (``status unknown for quota``)."""

_ATTEMPTS = 4  # a free port can be taken by another process before the server binds it


class ControlPlane:
    """etcd plus kube-apiserver, in ``work_dir``; :meth:`start`, then :meth:`stop` (always)."""

    def __init__(self, bin_dir: Path, work_dir: Path, *, startup_timeout: float = 120.0) -> None:
        self._bin = bin_dir
        self._work = work_dir
        self._timeout = startup_timeout
        self._etcd: ServerProcess | None = None
        self._apiserver: ServerProcess | None = None
        self._etcd_port = 0
        self._port = 0
        self._pki: Pki | None = None
        self.kubeconfig = work_dir / "kubeconfig"

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start etcd, then kube-apiserver; returns once ``/readyz`` answers ``ok``."""
        self._work.mkdir(parents=True, exist_ok=True)
        self._pki = write_pki(self._work / "pki")
        try:
            self._start_etcd()
            self._start_apiserver(port=None)
        except BaseException:
            self.stop()
            raise
        self._write_kubeconfig()

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (idempotent)."""
        if self._apiserver is not None:
            self._apiserver.stop()
            self._apiserver = None
        if self._etcd is not None:
            self._etcd.stop()
            self._etcd = None

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port and etcd (a rolling upgrade,
        as a client sees it: its watch cache starts again from etcd's current revision)."""
        assert self._apiserver is not None, "not started"
        self._apiserver.stop()
        self._apiserver = None
        self._start_apiserver(port=self._port)

    # what tests use ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self._port}"

    @property
    def etcd_url(self) -> str:
        """etcd's client URL."""
        return f"http://127.0.0.1:{self._etcd_port}"

    @property
    def token(self) -> str:
        """The bearer token of the test user (``system:masters``)."""
        return self._credentials().token

    def configuration(self) -> Configuration:
        """A new client configuration, loaded from the kubeconfig file like Shuttle loads one."""
        return load_configuration(kubeconfig=str(self.kubeconfig))

    @property
    def log_paths(self) -> tuple[Path, Path]:
        """The etcd and kube-apiserver log files."""
        return self._work / "etcd.log", self._work / "kube-apiserver.log"

    # etcd ------------------------------------------------------------------------------------
    def _start_etcd(self) -> None:
        for attempt in range(_ATTEMPTS):
            client, peer = free_port(), free_port()
            process = ServerProcess(
                "etcd",
                [
                    str(self._bin / "etcd"),
                    "--name=envtest",
                    f"--data-dir={self._work / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{client}",
                    f"--advertise-client-urls=http://127.0.0.1:{client}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                    f"--initial-cluster=envtest=http://127.0.0.1:{peer}",
                    "--unsafe-no-fsync=true",  # test data: no fsync per write (as envtest)
                    "--log-level=warn",
                ],
                log_path=self.log_paths[0],
            )
            self._etcd, self._etcd_port = process, client
            try:
                process.wait_ready(functools.partial(_etcd_healthy, client), timeout=self._timeout)
                return
            except ServerExitedError as exc:
                process.stop()
                self._etcd = None
                if "address already in use" not in exc.log_tail or attempt == _ATTEMPTS - 1:
                    raise

    # kube-apiserver --------------------------------------------------------------------------
    def _apiserver_argv(self, port: int) -> list[str]:
        pki = self._credentials()
        return [
            str(self._bin / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",  # a loopback advertise address cannot be an endpoint
            f"--secure-port={port}",
            f"--cert-dir={self._work / 'certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--token-auth-file={pki.token_file}",
            "--authorization-mode=RBAC",  # the test user is in system:masters, which bypasses it
            f"--service-account-issuer=https://127.0.0.1:{port}",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-cluster-ip-range=10.96.0.0/12",
            "--allow-privileged=true",
            f"--disable-admission-plugins={','.join(DISABLED_ADMISSION_PLUGINS)}",
            "--profiling=false",
            "--v=1",
        ]

    def _start_apiserver(self, *, port: int | None) -> None:
        for attempt in range(_ATTEMPTS):
            chosen = port or free_port()
            process = ServerProcess(
                "kube-apiserver", self._apiserver_argv(chosen), log_path=self.log_paths[1]
            )
            self._apiserver, self._port = process, chosen
            try:
                process.wait_ready(self._ready, timeout=self._timeout)
                return
            except ServerExitedError as exc:
                process.stop()
                self._apiserver = None
                clash = "address already in use" in exc.log_tail
                if not clash or attempt == _ATTEMPTS - 1:
                    raise

    def _ready(self) -> bool:
        request = urllib.request.Request(
            f"{self.url}/readyz", headers={"Authorization": f"Bearer {self.token}"}
        )
        context = ssl.create_default_context(cafile=str(self._credentials().ca_cert))
        try:
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                return bool(response.status == 200 and response.read() == b"ok")
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def _credentials(self) -> Pki:
        assert self._pki is not None, "not started"
        return self._pki

    def _write_kubeconfig(self) -> None:
        pki = self._credentials()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {"server": self.url, "certificate-authority": str(pki.ca_cert)},
                }
            ],
            "users": [{"name": TEST_USER, "user": {"token": pki.token}}],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": TEST_USER}}],
            "current-context": "envtest",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)


def _etcd_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("health") == "true")
    except (urllib.error.URLError, OSError, ValueError):
        return False
