"""The connection pool: psycopg 3 connections that load uuid columns as canonical strings."""

from __future__ import annotations

import psycopg
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from starform_core.errors import StoreError

__all__ = ["configure_connection", "open_pool"]


def configure_connection(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Per-connection setup: uuids come back as lower-case hyphenated ``str``."""
    conn.adapters.register_loader("uuid", TextLoader)


def open_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 10.0
) -> ConnectionPool:
    """Open a pool and wait until one connection works (``StoreError`` if none can be made).

    Connections are in autocommit mode: single-statement reads cost one round trip, and every
    multi-statement unit runs inside an explicit ``conn.transaction()``.
    """
    pool: ConnectionPool = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        configure=configure_connection,
        open=False,
        timeout=timeout,
        name="starbase",
        kwargs={"autocommit": True},
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except (PoolTimeout, psycopg.Error) as exc:
        pool.close()
        raise StoreError("could not connect to PostgreSQL (check DATABASE_URL)") from exc
    return pool
