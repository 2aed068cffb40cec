"""A real registry on this machine: the CNCF Distribution registry (Debian's ``docker-registry``).

Started on a free loopback port with its configuration and filesystem storage in a directory
the caller owns (deletes enabled), optionally behind an ``auth`` section (``htpasswd`` or
``token``), and stopped with the process. The registry contract suite runs against it.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from starform_core.errors import StarformError

__all__ = ["DEBIAN_PACKAGE", "LocalDistribution", "RegistryStartError"]

DEBIAN_PACKAGE = "docker-registry"
"""The Debian package shipping the registry binary."""
_BINARIES = ("docker-registry", "registry")


class RegistryStartError(StarformError):
    """The registry binary is missing or did not come up."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_binary() -> str:
    """The registry binary's path, or a :class:`RegistryStartError` naming the Debian package."""
    for name in _BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise RegistryStartError(f"no registry binary on PATH: install the Debian package {DEBIAN_PACKAGE!r}")


class LocalDistribution:
    """One registry process; use as a context manager, or :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        root: Path,
        *,
        auth: Mapping[str, Any] | None = None,
        binary: str | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.root = root
        self._auth = dict(auth) if auth else None
        self._binary = binary
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The registry's base URL."""
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        """Where the registry writes its log."""
        return self.root / "registry.log"

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}, "fields": {"service": "registry"}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": secrets.token_hex(16)},
        }
        if self._auth:
            config["auth"] = self._auth
        return config

    def start(self) -> LocalDistribution:
        """Start the registry and wait until it answers ``/v2/``."""
        binary = self._binary or find_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            self.port = _free_port()
            config_path = self.root / "config.yml"
            config_path.write_text(yaml.safe_dump(self._config()))
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and a file we wrote
                    [binary, "serve", str(config_path)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready():
                return self
            self.stop()
            if "address already in use" not in self.log_path.read_text(errors="replace"):
                break
        raise RegistryStartError(
            f"the registry did not start; its log: {self.log_path.read_text(errors='replace')[-2000:]}"
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self._startup_timeout
        with httpx.Client(timeout=1.0) as probe:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    return False
                try:
                    probe.get(f"{self.url}/v2/")
                    return True
                except httpx.HTTPError:
                    time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the registry process (terminate, then kill after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> LocalDistribution:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
