"""Shared machinery of the PostgreSQL billing repositories: Starbase's pool, billing's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg

from starform_adapters.postgres.repository import Cursor, PooledRepository
from starform_core.errors import SnapshotConflictError, StoreError

__all__ = ["BillingRepository", "Cursor", "as_int"]

SNAPSHOT_CONFLICT = "SBB01"
"""The SQLSTATE ``billing_ingest`` raises for a snapshot id re-sent with other content."""


def as_int(value: Decimal | int) -> int:
    """A ``numeric`` quantity (always integral) as an ``int``."""
    return int(value)


class BillingRepository(PooledRepository):
    """A billing repository on Starbase's pool (shared with the main store; no cipher needed)."""

    @contextmanager
    def _one(self) -> Iterator[Cursor]:
        """A cursor for one statement (autocommit: the statement is its own transaction), with
        billing's own SQLSTATEs translated (a conflicting snapshot)."""
        try:
            with self._read() as cur:
                yield cur
        except StoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, psycopg.Error) and cause.sqlstate == SNAPSHOT_CONFLICT:
                raise SnapshotConflictError(cause.diag.message_primary or "snapshot conflict") from cause
            raise
