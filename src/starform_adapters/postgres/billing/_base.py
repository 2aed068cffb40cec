"""Shared machinery of the PostgreSQL billing repositories: the pool, transactions, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from starform_adapters.postgres.errors import translate_errors
from starform_core.errors import SnapshotConflictError

__all__ = ["BillingBase", "Cursor", "as_int"]

Cursor = psycopg.Cursor[Any]
SNAPSHOT_CONFLICT = "SBB01"
"""The SQLSTATE ``billing_ingest`` raises for a snapshot id re-sent with other content."""


def as_int(value: Decimal | int) -> int:
    """A ``numeric`` quantity (always integral) as an ``int``."""
    return int(value)


class BillingBase:
    """Holds Starbase's connection pool (shared with the main store; autocommit connections)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction; psycopg errors become the core's store errors."""
        with translate_errors(), self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    @contextmanager
    def _one(self) -> Iterator[Cursor]:
        """A cursor for one statement (autocommit: the statement is its own transaction)."""
        try:
            with translate_errors(), self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, psycopg.Error) and cause.sqlstate == SNAPSHOT_CONFLICT:
                raise SnapshotConflictError(cause.diag.message_primary or "snapshot conflict") from cause
            raise
