"""``starbase serve --workers 2 --metrics-address``: one Prometheus endpoint reporting both workers
together (prometheus_client's multiprocess mode in a private directory the parent makes and
removes), gauges combined by their declared mode, and a dead worker's live gauges dropped when
uvicorn's supervisor replaces it. Real processes on the embedded PostgreSQL."""

from __future__ import annotations

import concurrent.futures
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
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import psutil  # type: ignore[import-untyped]
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from tests.starbase.listeners import change_listeners

METRICS_TOKEN = "scrape-me-please-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _until(condition: Callable[[], bool], *, seconds: float = 60) -> bool:
    """Poll ``condition`` until it holds or the deadline passes (its last answer)."""
    pause = threading.Event()
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.05)  # the polling interval of a condition with a deadline
    return True


@attrs.define
class Served:
    """The running ``starbase serve --workers 2`` and where to reach it."""

    process: subprocess.Popen[str]
    base: str
    metrics_url: str
    data_dir: Path
    tmp_root: Path

    def metrics_dir(self) -> Path:
        (found,) = self.tmp_root.glob("starbase-metrics-*")
        return found

    def workers(self) -> set[int]:
        """The pids of the running worker processes (uvicorn spawns them)."""
        children = psutil.Process(self.process.pid).children()
        return {
            c.pid
            for c in children
            if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(c.cmdline())
        }

    def scrape(
        self, url: str | None = None, **kwargs: object
    ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of one scrape, by name and labels."""
        response = httpx.get(url or self.metrics_url, timeout=10, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }


def _healthz_count(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    key = ("starbase_http_requests_total", (("method", "GET"), ("route", "/healthz"), ("status", "200")))
    return samples.get(key, 0.0)


def _written_by(path: Path, name: str, **labels: str) -> float:
    """The value one worker's file holds for the sample ``name`` with (at least) ``labels``."""
    if not path.exists():
        return 0.0
    return sum(
        sample.value
        for family in MultiProcessCollector.merge([str(path)], accumulate=False)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    data_dir = Path(tempfile.mkdtemp(prefix="starform-serve-"))
    tmp_root = Path(tempfile.mkdtemp(prefix="starform-tmp-"))
    port, metrics_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")}
    env.update(TMPDIR=str(tmp_root), STARBASE_METRICS_TOKEN=METRICS_TOKEN)
    serve = ["serve", "--port", str(port), "--workers", "2", "--metrics-address", f"127.0.0.1:{metrics_port}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "starform_apps.starbase.cli", *serve, "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    served = Served(process, base, f"http://127.0.0.1:{metrics_port}/metrics", data_dir, tmp_root)

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        assert _until(ready, seconds=120) and process.poll() is None, process.communicate(timeout=30)
        assert _until(lambda: len(served.workers()) == 2 and change_listeners(data_dir) == 2)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=90)
        leftovers = list(tmp_root.glob("starbase-metrics-*"))
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(tmp_root, ignore_errors=True)
    assert process.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in err
    assert "Traceback" not in err
    assert leftovers == [], "the parent removes the metrics directory when it stops"


def test_one_listener_reports_the_requests_of_both_workers(served: Served) -> None:
    metrics_dir = served.metrics_dir()
    assert stat.S_IMODE(metrics_dir.stat().st_mode) == 0o700, "a private directory"
    workers = served.workers()
    per_worker = {pid: metrics_dir / f"counter_{pid}.db" for pid in workers}
    made = 0

    def both_served() -> bool:
        nonlocal made
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as executor:
            answers = list(executor.map(lambda _: httpx.get(f"{served.base}/healthz", timeout=10), range(24)))
        assert [a.json() for a in answers] == [{"status": "ok"}] * 24
        made += len(answers)
        counts = [
            _written_by(path, "starbase_http_requests_total", route="/healthz")
            for path in per_worker.values()
        ]
        return all(count > 0 for count in counts)

    assert _until(both_served), "requests on fresh connections reach both workers"
    assert _until(lambda: _healthz_count(served.scrape()) == made), (made, _healthz_count(served.scrape()))
    assert (
        sum(
            _written_by(path, "starbase_http_requests_total", route="/healthz")
            for path in per_worker.values()
        )
        == made
    )
    on_api_port = served.scrape(
        f"{served.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert _healthz_count(on_api_port) == made, "the API port's /metrics reports every worker too"


def test_gauges_combine_by_their_mode(served: Served) -> None:
    samples = served.scrape()
    # livemin: 1 only while every running worker listens (a sum would say 2)
    assert samples[("starbase_change_listener_connected", ())] == 1.0
    assert samples[("starbase_desired_state_held_polls", ())] == 0.0
    assert ("starbase_payload_cache_bytes", ()) in samples, "livesum: one series, no pid label"


_TOKEN_CREATE = ("token", "create", "--user", "ops@example.com", "--operator")


def _cluster(served: Served) -> tuple[str, dict[str, str], dict[str, str]]:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "starform_apps.starbase.cli",
            *_TOKEN_CREATE,
            "--data-dir",
            str(served.data_dir),
        ],
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENCRYPTION_KEY")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    auth = {"Authorization": f"Bearer {made.stdout.strip()}"}
    body = {"name": "c1", "region": "fra1", "gateway_namespace": "gw", "gateway_name": "gw"}
    registered = httpx.post(f"{served.base}/v1/clusters", json=body, headers=auth, timeout=10)
    assert registered.status_code == 201, registered.text
    agent = {"Authorization": f"Bearer {registered.json()['agent_token']}"}
    return registered.json()["cluster"]["id"], auth, agent


def test_a_dead_workers_live_gauges_leave_with_it(served: Served) -> None:
    cluster, auth, agent = _cluster(served)
    url = f"{served.base}/v1/clusters/{cluster}/desired-state"
    etag = httpx.get(url, headers=agent, timeout=10).headers["etag"]
    held = {**agent, "If-None-Match": etag, "Prefer": "wait=60"}
    metrics_dir, workers = served.metrics_dir(), served.workers()
    before = _healthz_count(served.scrape())
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as executor:
        polls = [executor.submit(httpx.get, url, headers=held, timeout=90) for _ in range(8)]
        assert _until(lambda: served.scrape()[("starbase_desired_state_held_polls", ())] == 8)

        def holding(pid: int) -> float:
            return _written_by(metrics_dir / f"gauge_livesum_{pid}.db", "starbase_desired_state_held_polls")

        victim = max(workers, key=holding)
        (survivor,) = workers - {victim}
        kept = holding(survivor)
        assert holding(victim) + kept == 8
        assert holding(victim) > 0
        os.kill(victim, signal.SIGKILL)
        assert _until(lambda: len(served.workers()) == 2 and victim not in served.workers())

        def only_the_survivors_count() -> bool:
            # the survivor still holds its polls (they last 60 s): the aggregate lost the victim's
            return served.scrape()[("starbase_desired_state_held_polls", ())] == kept == holding(survivor)

        assert _until(only_the_survivors_count), "the dead worker's held polls no longer count"
        assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists()
        assert (metrics_dir / f"counter_{victim}.db").exists(), "its counters still count"
        assert _healthz_count(served.scrape()) == before
        reconcile = httpx.post(f"{served.base}/v1/clusters/{cluster}/reconcile", headers=auth, timeout=10)
        assert reconcile.status_code == 202, reconcile.text
        answered = [p.result(timeout=60) for p in polls if p.exception(timeout=60) is None]
    assert len(answered) == kept
    assert {a.status_code for a in answered} == {304}
    assert _until(lambda: served.scrape()[("starbase_desired_state_held_polls", ())] == 0)
    assert _until(lambda: served.scrape()[("starbase_change_listener_connected", ())] == 1.0)
