"""Versioned SQL migrations, applied once each under a PostgreSQL advisory lock.

Files ``migrations/NNNN_name.sql`` ship as package data. The runner takes
``pg_advisory_lock`` so replicas starting together apply each migration exactly once, records
``(version, name, checksum)`` in ``schema_migrations``, and refuses to run when an applied file
was changed afterwards. Re-running is a no-op.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import attrs
import psycopg

from starform_core.errors import StoreError

__all__ = ["MIGRATION_LOCK_ID", "Migration", "available_migrations", "migrate"]

MIGRATION_LOCK_ID = 0x5354_4152_4253_0001
"""The advisory lock key every Starbase replica takes while migrating."""

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@attrs.frozen
class Migration:
    """One versioned SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in resources.files("starform_adapters.postgres").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(version=int(match[1]), name=match[2], sql=entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(conninfo: str, *, migrations: list[Migration] | None = None) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call (``[]``: up to date)."""
    todo = available_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done: dict[int, str] = dict(
                    conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
                )
                for migration in todo:
                    if migration.version in done:
                        if done[migration.version] != migration.checksum:
                            raise StoreError(
                                f"migration {migration.version:04d}_{migration.name} was changed "
                                "after it was applied; add a new migration instead"
                            )
                        continue
                    with conn.transaction():
                        conn.execute(migration.sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                    applied_now.append(migration.version)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: {type(exc).__name__}: {exc.diag.message_primary}") from exc
    return applied_now
