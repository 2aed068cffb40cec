"""``starbase token create`` against a data directory whose ``starbase serve`` is running.

Run: ``.venv/bin/python benchmarks/bench_starbase_cli.py [--runs 5]``

1. Starts ``starbase serve`` on a fresh data directory (embedded PostgreSQL) and waits for it.
2. Times ``starbase token create`` as a new process, ``--runs`` times (it reuses the running
   database: no start, no stop); prints the median and the maximum (target: under 2 s).
3. Stops the server (SIGTERM) and times one ``token create`` that must start and stop the
   embedded database itself, for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ENV = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _token_create(data_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "starform_apps.starbase.cli",
            "token",
            "create",
            "--user",
            "bench@example.com",
            "--data-dir",
            str(data_dir),
        ],
        env=ENV,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.perf_counter() - started


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("starbase serve did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="starform-bench-cli-"))
    port = _free_port()
    serve = subprocess.Popen(
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
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/readyz", serve)
        times = [_token_create(data_dir) for _ in range(args.runs)]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    cold = _token_create(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)
    print(
        f"token create, server running: median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        f" over {len(times)} runs (target < 2 s)"
    )
    print(f"token create, no server running (starts and stops the embedded database): {cold:.2f} s")


if __name__ == "__main__":
    main()
