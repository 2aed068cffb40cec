"""``starbase serve`` end to end: embedded PostgreSQL in a fresh data directory, a generated key,
HTTP on a real port, a clean stop on SIGINT."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_on_an_embedded_database() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="starform-serve-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "starform_apps.starbase.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        pause = threading.Event()
        ready = None
        for _ in range(600):  # until it answers (initdb takes a few seconds)
            if process.poll() is not None:
                break
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                pause.wait(0.05)
        assert ready is not None, process.communicate(timeout=30)
        assert ready.json() == {"status": "ready"}
        key_file = data_dir / "encryption.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert "openapi" in httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"listening on http://127.0.0.1:{port}" in err
    leftovers = [
        p.pid for p in psutil.process_iter(["cmdline"]) if str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], "the embedded PostgreSQL must stop with Starbase"
    shutil.rmtree(data_dir, ignore_errors=True)
