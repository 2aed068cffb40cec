"""``starbase serve --workers N``: N worker processes on one listening socket (uvicorn's supervisor).

The parent binds the socket, runs (or finds) PostgreSQL, migrates and publishes the shipped
templates; uvicorn's :class:`~uvicorn.supervisors.Multiprocess` spawns the workers, restarts one
that dies and stops them all on SIGTERM or Ctrl-C. Each worker builds its own app through
:class:`WorkerApp` (pickled to it, never put in the environment): its own pool, payload cache
and change listener, so caches stay coherent across workers through PostgreSQL notifications.
On SIGTERM a worker first answers its held long-polls, then shuts down as uvicorn does.
"""

from __future__ import annotations

import atexit
import pathlib
import signal
import socket
from contextlib import ExitStack
from types import FrameType
from typing import Any

import attrs
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.embedded import load_cipher
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.server import drain_held_polls, open_starbase, uvicorn_config

__all__ = ["WORKER_HEALTHCHECK_SECONDS", "WorkerApp", "serve_workers"]

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
                run_migrations=False,
            )
        )
        atexit.register(stack.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            _drain_before(starbase.app, sig)
        return starbase.app


def serve_workers(
    config: StarbaseConfig, *, database_url: str, key_dir: pathlib.Path | None, sock: socket.socket
) -> None:
    """Run ``config.workers`` workers on ``sock`` until SIGTERM or Ctrl-C (blocks)."""
    settings = uvicorn_config(
        WorkerApp(config=config, database_url=database_url, key_dir=key_dir),
        factory=True,
        workers=config.workers,
        lifespan="on",
        # A worker answers the supervisor's pings only once it has imported the app: on a busy
        # machine that takes longer than uvicorn's default 5 s, and a missed ping kills it.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    Multiprocess(settings, sockets=[sock]).run()
