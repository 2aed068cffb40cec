"""Build (or reuse) etcd and kube-apiserver with ``tools/envtest/build.sh``."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["BUILD_SCRIPT", "ServerBuildError", "build_servers"]

BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "envtest" / "build.sh"


class ServerBuildError(RuntimeError):
    """``tools/envtest/build.sh`` failed; the message carries the end of its output."""


def build_servers(*, timeout: float = 1800.0) -> Path:
    """The directory holding ``etcd`` and ``kube-apiserver`` (built on first use, minutes)."""
    try:
        result = subprocess.run(
            ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerBuildError(f"{BUILD_SCRIPT} did not run: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-30:])
        raise ServerBuildError(f"{BUILD_SCRIPT} failed with exit code {result.returncode}:\n{tail}")
    directory = Path(result.stdout.strip().splitlines()[-1])
    for binary in ("etcd", "kube-apiserver"):
        if not (directory / binary).is_file():
            raise ServerBuildError(f"{BUILD_SCRIPT} printed {directory}, which has no {binary}")
    return directory
