"""A real ``redis-server`` for tests: a free loopback port, no persistence, stopped on exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from starform_core.errors import StarformError

__all__ = ["redis_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(*, timeout: float = 20.0) -> Iterator[str]:
    """Start ``redis-server`` on 127.0.0.1 and a free port; yields ``redis://127.0.0.1:<port>/0``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StarformError("redis-server is not installed (bin/dev installs the Debian package)")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="starform-redis-")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until_ready(url, process, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StarformError(f"redis-server exited with {process.returncode}")
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pause.wait(0.05)
        raise StarformError("redis-server did not answer in time")
    finally:
        client.close()
