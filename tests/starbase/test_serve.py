"""``starbase serve`` end to end: embedded PostgreSQL in a fresh data directory, a generated key,
progress lines, JSON logs, the metrics listener, CLI commands that reuse the running server, and
a clean stop (database included) on SIGTERM and on SIGINT."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from tests.starbase.listeners import change_listeners


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}


def _starbase(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "starform_apps.starbase.cli", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def _postgres_of(data_dir: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(data_dir) in " ".join(p.info["cmdline"] or [])
        and "postgres" in " ".join(p.info["cmdline"] or [])
    ]


def _wait_ready(process: subprocess.Popen[str], url: str) -> httpx.Response | None:
    pause = threading.Event()
    deadline = time.monotonic() + 90  # initdb takes a few seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            pause.wait(0.05)
    return None


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="starform-serve-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_serve_on_an_embedded_database(data_dir: Path, stop_with: signal.Signals) -> None:
    port, metrics_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "starform_apps.starbase.cli",
            "serve",
            "--port",
            str(port),
            "--metrics-address",
            f"127.0.0.1:{metrics_port}",
            "--data-dir",
            str(data_dir),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _wait_ready(process, f"http://127.0.0.1:{port}/readyz")
        assert ready is not None, process.communicate(timeout=30)
        assert ready.json() == {"status": "ready"}
        assert stat.S_IMODE((data_dir / "encryption.key").stat().st_mode) == 0o600
        assert "openapi" in httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert "starbase_http_requests_total" in scraped.text
        reused = _starbase("token", "create", "--user", "ops@example.com", "--data-dir", str(data_dir))
        assert reused.returncode == 0, reused.stderr
        token = reused.stdout.strip()
        me = httpx.get(
            f"http://127.0.0.1:{port}/v1/tokens", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert me.status_code == 200, "the CLI wrote into the running server's database"
        catalogue = httpx.get(
            f"http://127.0.0.1:{port}/v1/templates", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert [t["name"] for t in catalogue.json()] == ["cron-job", "minecraft-server", "web-app", "worker"]
        assert _postgres_of(data_dir), "the CLI left the running server's database running"
    finally:
        process.send_signal(stop_with)
        out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    assert f"listening on http://127.0.0.1:{port}" in err
    assert "initialising the embedded PostgreSQL" in err
    assert "embedded PostgreSQL ready" in err
    assert f"{stop_with.name} received" in err
    assert _postgres_of(data_dir) == [], "the embedded PostgreSQL must stop with Starbase"
    for line in out.splitlines():
        json.loads(line)  # every log line, Starbase's and the libraries', is JSON


def test_a_busy_port_is_reported_before_the_database_starts(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = _starbase("serve", "--port", str(port), "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (data_dir / "postgres").exists(), "the database was not even initialised"


def test_serve_with_workers_shares_the_port_and_each_worker_listens(data_dir: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "starform_apps.starbase.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--data-dir",
            str(data_dir),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = _wait_ready(process, f"{base}/readyz")
        assert ready is not None, process.communicate(timeout=30)
        pause = threading.Event()
        deadline = time.monotonic() + 60
        while change_listeners(data_dir) < 2 and time.monotonic() < deadline:
            pause.wait(0.05)  # the polling interval of a condition with a deadline
        assert change_listeners(data_dir) == 2, "each worker has its own LISTEN connection"
        made = _starbase(
            "token", "create", "--user", "ops@example.com", "--operator", "--data-dir", str(data_dir)
        )
        assert made.returncode == 0, made.stderr
        auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
        body = {"name": "c1", "region": "fra1", "gateway_namespace": "gw", "gateway_name": "gw"}
        registered = httpx.post(f"{base}/v1/clusters", json=body, headers=auth, timeout=10)
        assert registered.status_code == 201, registered.text
        cluster = registered.json()["cluster"]["id"]
        agent = {"Authorization": f"Bearer {registered.json()['agent_token']}"}
        url = f"{base}/v1/clusters/{cluster}/desired-state"
        etag = httpx.get(url, headers=agent, timeout=10).headers["etag"]
        held = {**agent, "If-None-Match": etag, "Prefer": "wait=60"}
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as executor:
            polls = [executor.submit(httpx.get, url, headers=held, timeout=90) for _ in range(8)]
            reconcile = httpx.post(f"{base}/v1/clusters/{cluster}/reconcile", headers=auth, timeout=10)
            assert reconcile.status_code == 202, reconcile.text
            answers = [p.result(timeout=30) for p in polls]
        assert {a.status_code for a in answers} == {304}
        assert {a.headers["starform-reconcile-request"] for a in answers} == {reconcile.json()["id"]}
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    assert "with 2 workers" in err
    assert _postgres_of(data_dir) == [], "the embedded PostgreSQL must stop with Starbase"
    assert "Traceback" not in err
