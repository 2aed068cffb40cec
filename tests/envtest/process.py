"""One server process of the test control plane: started with its log in a file, waited for by
polling a readiness probe against a deadline, stopped with SIGTERM (then SIGKILL)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["ServerExitedError", "ServerProcess", "free_port"]

_PR_SET_PDEATHSIG = 1


class ServerExitedError(RuntimeError):
    """The server stopped (or never became ready); the message ends with its last log lines."""

    def __init__(self, message: str, *, log_tail: str) -> None:
        super().__init__(f"{message}\n--- last lines of the log ---\n{log_tail}")
        self.log_tail = log_tail


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no server outlives a killed run."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """A started server process; :meth:`stop` ends it (idempotent)."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        """The process id."""
        return self._process.pid

    def running(self) -> bool:
        """True while the process has not exited."""
        return self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the process's log."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def wait_ready(self, probe: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> None:
        """Poll ``probe`` until it returns True; raise :class:`ServerExitedError` when the process
        exits first or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            if probe():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerExitedError(
                    f"{self.name} not ready after {timeout:.0f}s", log_tail=self.log_tail()
                )
            try:
                # waiting on the process paces the polling and notices an early exit at once
                code = self._process.wait(timeout=min(interval, remaining))
            except subprocess.TimeoutExpired:
                continue
            raise ServerExitedError(f"{self.name} exited with code {code}", log_tail=self.log_tail())

    def stop(self, *, grace: float = 15.0) -> None:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; closes the log."""
        if self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=grace)
        self._log.close()
