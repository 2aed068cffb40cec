"""``starbase serve --workers N``: N worker processes on one listening socket (uvicorn's supervisor).

The parent binds the socket, runs (or finds) PostgreSQL, migrates and publishes the shipped
templates; uvicorn's :class:`~uvicorn.supervisors.Multiprocess` spawns the workers, restarts one
that dies and stops them all on SIGTERM or Ctrl-C. Each worker builds its own app through
:class:`WorkerApp` (pickled to it, never put in the environment): its own pool, payload cache
and change listener, so caches stay coherent across workers through PostgreSQL notifications.
On SIGTERM a worker first answers its held long-polls, then shuts down as uvicorn does.

Metrics: before the workers start, the parent makes a fresh private directory (removed on stop)
and names it in ``PROMETHEUS_MULTIPROC_DIR``, so every worker writes its metrics there
(prometheus_client's multiprocess mode); ``--metrics-address`` is served by the parent, and
``/metrics`` on the API port by whichever worker answers, both reporting every worker together.
When a worker dies, the parent drops its live gauges (``mark_process_dead``) as it replaces it.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any

import attrs
from prometheus_client.multiprocess import mark_process_dead
from starlette.types import ASGIApp
from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess

from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.embedded import load_cipher
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.metrics import Metrics, render_multiprocess
from starform_apps.starbase.metrics_app import create_metrics_app
from starform_apps.starbase.server import ServerThread, drain_held_polls, open_starbase, uvicorn_config

__all__ = ["MULTIPROCESS_ENV", "WORKER_HEALTHCHECK_SECONDS", "WorkerApp", "serve_workers"]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus_client's multiprocess mode writes (read when a process imports it)."""

WORKER_HEALTHCHECK_SECONDS = 60
"""How long the supervisor waits for a worker's answer before it replaces the worker."""


def _drain_before(app: ASGIApp, sig: signal.Signals) -> None:
    """Chain a drain of held long-polls in front of the handler uvicorn installed for ``sig``."""
    uvicorn_handler: Any = signal.getsignal(sig)

    def handle(signum: int, frame: FrameType | None) -> None:
        drain_held_polls(app)
        if callable(uvicorn_handler):
            uvicorn_handler(signum, frame)

    signal.signal(sig, handle)


@attrs.frozen(repr=False)
class WorkerApp:
    """uvicorn's app factory in each worker: opens this worker's Starbase on the migrated database."""

    config: StarbaseConfig
    database_url: str
    key_dir: pathlib.Path | None
    metrics_dir: pathlib.Path | None = attrs.field(default=None, kw_only=True)
    """Where every worker writes its metrics (``PROMETHEUS_MULTIPROC_DIR``); ``/metrics`` reports all."""

    def __call__(self) -> ASGIApp:
        """Build the worker's app (uvicorn calls this once, in the worker, after its signal setup)."""
        configure_logging(self.config.log_level)
        stack = ExitStack()
        starbase = stack.enter_context(
            open_starbase(
                self.database_url,
                load_cipher(self.config, generate_in=self.key_dir),
                pool_max_size=self.config.pool_max_size,
                payload_cache_bytes=self.config.payload_cache_mb * 1024 * 1024,
                rate_limiter=LimitsRateLimiter(self.config.rate_limit_storage),
                rate_limits=self.config.rate_limits,
                metrics_token=self.config.metrics_token,
                metrics=Metrics(multiprocess_dir=self.metrics_dir),
                run_migrations=False,
            )
        )
        atexit.register(stack.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            _drain_before(starbase.app, sig)
        return starbase.app


class _Supervisor(Multiprocess):
    """uvicorn's supervisor that also drops a dead worker's live gauges (``mark_process_dead``)."""

    def __init__(self, config: Config, sockets: list[socket.socket], *, metrics_dir: pathlib.Path) -> None:
        super().__init__(config, sockets)
        self._metrics_dir = metrics_dir
        self._running: set[int] = set()

    def keep_subprocess_alive(self) -> None:
        """Replace dead workers (uvicorn), then forget every worker that is gone since the last look."""
        super().keep_subprocess_alive()
        self._forget_exited()

    def _forget_exited(self) -> None:
        running = {p.pid for p in self.processes if p.pid is not None and p.exitcode is None}
        for pid in self._running - running:
            mark_process_dead(pid, path=str(self._metrics_dir))  # type: ignore[no-untyped-call]
        self._running = running


@contextmanager
def _multiprocess_metrics() -> Iterator[pathlib.Path]:
    """A fresh private directory named in ``PROMETHEUS_MULTIPROC_DIR`` (inherited by the workers
    started inside), removed with the previous value restored on exit."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="starbase-metrics-"))
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _serve_metrics(
    directory: pathlib.Path, *, host: str, sock: socket.socket, progress: Callable[[str], None]
) -> ServerThread:
    """The metrics listener in the parent, reporting every worker's metrics together."""
    server = ServerThread(create_metrics_app(lambda: render_multiprocess(directory)), host=host, sock=sock)
    progress(f"metrics on {server.start()}/metrics (every worker's)")
    return server


def _quiet(_line: str) -> None:
    """No progress lines."""


def serve_workers(
    config: StarbaseConfig,
    *,
    database_url: str,
    key_dir: pathlib.Path | None,
    sock: socket.socket,
    metrics_sock: socket.socket | None = None,
    progress: Callable[[str], None] = _quiet,
) -> None:
    """Run ``config.workers`` workers on ``sock`` until SIGTERM or Ctrl-C (blocks); with
    ``metrics_sock``, serve every worker's metrics together there meanwhile."""
    with ExitStack() as stack:
        metrics_dir = stack.enter_context(_multiprocess_metrics())
        if metrics_sock is not None:
            host = config.metrics_address[0] if config.metrics_address else "127.0.0.1"
            metrics = _serve_metrics(metrics_dir, host=host, sock=metrics_sock, progress=progress)
            stack.callback(metrics.stop)
        app = WorkerApp(config=config, database_url=database_url, key_dir=key_dir, metrics_dir=metrics_dir)
        _supervise(config, app, sock, metrics_dir)


def _supervise(
    config: StarbaseConfig, app: WorkerApp, sock: socket.socket, metrics_dir: pathlib.Path
) -> None:
    """uvicorn's supervisor running ``config.workers`` workers of ``app`` on ``sock`` (blocks)."""
    settings = uvicorn_config(
        app,
        factory=True,
        workers=config.workers,
        lifespan="on",
        # A worker answers the supervisor's pings only once it has imported the app: on a busy
        # machine that takes longer than uvicorn's default 5 s, and a missed ping kills it.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    _Supervisor(settings, [sock], metrics_dir=metrics_dir).run()
