"""Run Starbase: open the store (embedded PostgreSQL or ``DATABASE_URL``), migrate, serve.

:func:`open_starbase` is the PostgreSQL composition root used by ``starbase serve`` and by
tests: it migrates (the schema and the job queue's), opens the pool, fills every role port of
:class:`StarbasePorts` with the one :class:`PostgresStore` and billing's stores
(:func:`postgres_ports`) and hands them to :func:`~starform_apps.starbase.app.create_app`.
:class:`ServerThread` runs uvicorn on a real socket in a background thread. Importing this
module connects to nothing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import uvicorn
from psycopg_pool import ConnectionPool
from starlette.types import ASGIApp

from starform_adapters.postgres import PostgresStore, VarCipher, migrate, open_pool
from starform_adapters.postgres.job_schema import migrate_job_queue
from starform_adapters.postgres.notifications import PostgresClusterChanges
from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase.app import create_app
from starform_apps.starbase.billing import Billing, BillingConfig, billing_runtime
from starform_apps.starbase.billing.service import Clock, utc_now
from starform_apps.starbase.billing.wiring import open_billing
from starform_apps.starbase.deploy import BuildJobs, DeployPorts
from starform_apps.starbase.deploy.tasks import ProcrastinateBuildJobs
from starform_apps.starbase.event_stream import EventStreams, StreamLimits
from starform_apps.starbase.jobs import ProcrastinateScheduler, create_job_app
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.payload_cache import DEFAULT_MAX_BYTES
from starform_apps.starbase.ports import StarbasePorts
from starform_apps.starbase.quotas import DEFAULT_LIMITS, Quota
from starform_apps.starbase.ratelimit import RateLimits
from starform_core.errors import StarformError
from starform_core.ports.ratelimit import RateLimit, RateLimiter
from starform_core.ports.registry import ImageRegistry

__all__ = [
    "EVENT_LOOP",
    "HTTP_PARSER",
    "ServerThread",
    "Starbase",
    "bind_socket",
    "drain_held_polls",
    "open_starbase",
    "postgres_ports",
    "uvicorn_config",
]

EVENT_LOOP = "uvloop"
"""uvicorn's event loop: uvloop (``uvicorn[standard]``), not asyncio's pure-Python one."""

HTTP_PARSER = "httptools"
"""uvicorn's HTTP/1.1 implementation: the httptools C parser, not h11."""


def uvicorn_config(app: object, **settings: Any) -> uvicorn.Config:
    """uvicorn's settings for Starbase: the speed-ups, our JSON logs (not uvicorn's), no access log."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        loop=EVENT_LOOP,
        http=HTTP_PARSER,
        log_config=None,
        log_level="warning",
        access_log=False,
        **settings,
    )


def drain_held_polls(app: ASGIApp) -> None:
    """Answer every held long-poll of a Starbase app now (before a shutdown); thread-safe."""
    state = getattr(app, "state", None)
    wakeups = getattr(state, "wakeups", None)
    if wakeups is not None:
        wakeups.drain()


@attrs.frozen
class Starbase:
    """An opened Starbase: its store, cipher, metrics, rate limits, billing and ASGI app."""

    store: PostgresStore
    cipher: VarCipher
    metrics: Metrics
    app: ASGIApp
    database_url: str
    rate_limits: RateLimits
    streams: EventStreams
    billing: Billing


def postgres_ports(store: PostgresStore, billing: Billing) -> StarbasePorts:
    """Every role port of the API: the PostgreSQL store's roles, and billing's."""
    return StarbasePorts(
        agents=store,
        clusters=store,
        tenancy=store,
        environments=store,
        services=store,
        releases=store,
        var_groups=store,
        dashboard=store,
        readiness=store,
        tokens=store,
        templates=store,
        usage=billing.ledger,
        invoices=billing.invoices,
        usage_audit=billing.audit,
        payments=billing.provider,
        billing_jobs=billing.scheduler,
        reconcile=store,
        adoptions=store,
    )


@contextmanager
def open_starbase(
    database_url: str,
    cipher: VarCipher,
    *,
    pool_max_size: int = 20,
    metrics: Metrics | None = None,
    payload_cache_bytes: int = DEFAULT_MAX_BYTES,
    observed_stale_after: float = 600.0,
    rate_limiter: RateLimiter | None = None,
    rate_limits: dict[Quota, RateLimit] | None = None,
    metrics_token: str | None = None,
    registry: ImageRegistry | None = None,
    build_jobs: BuildJobs | None = None,
    stream_limits: StreamLimits | None = None,
    billing: BillingConfig | None = None,
    clock: Clock = utc_now,
    run_migrations: bool = True,
) -> Iterator[Starbase]:
    """Migrate the database (and the job queue), open a pool and build the app; closes on exit.

    ``rate_limiter`` defaults to in-process counters (one Starbase process). ``registry``
    resolves the tags of hand deploys; ``build_jobs`` hands pushed builds to workers (default:
    the job queue on this database); ``stream_limits`` bound the live event streams
    (:class:`~starform_apps.starbase.event_stream.StreamLimits`). ``billing``
    configures the payment provider and audit trail (default: PostgreSQL audit, no provider);
    ``clock`` is billing's clock (tests pass a simulated one). The app follows cluster changes
    on its own ``LISTEN`` connection while it runs (its ASGI lifespan). ``run_migrations=False``:
    the schema (and the job queue's) is migrated already (``--workers`` processes).
    """
    if run_migrations:
        _migrate_schemas(database_url)
    with _pool_and_scheduler(database_url, max_size=pool_max_size) as (pool, scheduler):
        store = PostgresStore(pool, cipher)
        metrics = metrics or Metrics()
        service = _open_billing(pool, scheduler, metrics, config=billing or BillingConfig(), clock=clock)
        limits = _rate_limits(metrics, limiter=rate_limiter, limits=rate_limits)
        app = create_app(
            postgres_ports(store, service),
            checksum_key=cipher.checksum_key,
            rate_limiter=limits.limiter,
            rate_limits=limits,
            metrics=metrics,
            metrics_token=metrics_token,
            payload_cache_bytes=payload_cache_bytes,
            deploy=_deploy_ports(store, scheduler, registry=registry, build_jobs=build_jobs),
            stream_limits=stream_limits,
            billing=service.runtime,
            changes=PostgresClusterChanges(database_url),
            observed_stale_after=observed_stale_after,
        )
        yield Starbase(
            store=store,
            cipher=cipher,
            metrics=metrics,
            app=app,
            database_url=database_url,
            rate_limits=limits,
            streams=app.state.event_streams,
            billing=service,
        )


def _migrate_schemas(database_url: str) -> None:
    """Migrate Starbase's schema, then the job queue's (both are idempotent)."""
    migrate(database_url)
    migrate_job_queue(database_url)


@contextmanager
def _pool_and_scheduler(
    database_url: str, *, max_size: int
) -> Iterator[tuple[ConnectionPool, ProcrastinateScheduler]]:
    """The connection pool and the job queue's scheduler; on exit closes the scheduler, then the pool."""
    pool = open_pool(database_url, max_size=max_size)
    scheduler = ProcrastinateScheduler(create_job_app(database_url))
    try:
        yield pool, scheduler
    finally:
        scheduler.close()
        pool.close()


def _open_billing(
    pool: ConnectionPool,
    scheduler: ProcrastinateScheduler,
    metrics: Metrics,
    *,
    config: BillingConfig,
    clock: Clock,
) -> Billing:
    """Billing on the pool and job queue, its runtime's metrics on ``metrics``' registry."""
    runtime = billing_runtime(metrics.registry, config=config, clock=clock)
    return open_billing(pool, config, runtime=runtime, scheduler=scheduler)


def _rate_limits(
    metrics: Metrics, *, limiter: RateLimiter | None, limits: dict[Quota, RateLimit] | None
) -> RateLimits:
    """The quotas (:data:`~starform_apps.starbase.quotas.DEFAULT_LIMITS` by default) on ``limiter``
    (in-process counters by default)."""
    return RateLimits(
        limiter=limiter or LimitsRateLimiter("memory://"),
        metrics=metrics,
        limits=dict(limits or DEFAULT_LIMITS),
    )


def _deploy_ports(
    store: PostgresStore,
    scheduler: ProcrastinateScheduler,
    *,
    registry: ImageRegistry | None,
    build_jobs: BuildJobs | None,
) -> DeployPorts:
    """Push to deploy's ports: git and builds on the store, builds handed to the job queue by default."""
    return DeployPorts(
        git=store,
        builds=store,
        registry=registry,
        jobs=build_jobs or ProcrastinateBuildJobs(open_app=scheduler.opened_app),
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now (``StarformError`` naming the address if it is taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StarformError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


class ServerThread:
    """uvicorn serving an app on ``host:port`` (port 0 picks a free one) in a daemon thread.

    Pass ``sock`` (from :func:`bind_socket`) to serve on a socket bound earlier; ``on_stop`` runs
    first when the server stops (Starbase passes ``streams.close``: its live event streams end
    instead of holding the shutdown).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        config = uvicorn_config(app, host=host, port=port, lifespan="auto")
        self._app = app
        self._server = uvicorn.Server(config)
        sockets = None if sock is None else [sock]
        self._thread = threading.Thread(
            target=lambda: self._server.run(sockets=sockets), name="starbase", daemon=True
        )
        self.host = host
        self._on_stop = on_stop

    def start(self, *, timeout: float = 10.0) -> str:
        """Start serving; returns the base URL once the socket listens."""
        self._thread.start()
        pause = threading.Event()
        deadline = time.monotonic() + timeout
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            pause.wait(0.01)
        if not self._server.started:
            raise StarformError("Starbase did not start")
        port = self._server.servers[0].sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    def wait(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set (a signal) or the server ends on its own."""
        while self._thread.is_alive() and not stop.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop serving (answering held long-polls at once, ending the event streams, finishing
        requests in flight) and wait for the thread."""
        drain_held_polls(self._app)
        if self._on_stop is not None:
            self._on_stop()
        self._server.should_exit = True
        self._thread.join(timeout=10)
