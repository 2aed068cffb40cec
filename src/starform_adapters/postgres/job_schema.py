"""The job queue's schema (procrastinate) applied next to Starbase's own migrations.

A fresh database gets procrastinate's complete ``schema.sql``; every migration file shipped with
that procrastinate version is then recorded in ``job_queue_migrations`` as included. After an
upgrade of procrastinate, the files not recorded yet (its ``sql/migrations/*.sql``, applied in
name order, which is version order) are applied and recorded. Runs under the same advisory lock
as :func:`~starform_adapters.postgres.migrations.migrate`, so replicas starting together apply
each step once.
"""

from __future__ import annotations

import pathlib

import psycopg
from procrastinate.schema import SchemaManager

from starform_adapters.postgres.migrations import MIGRATION_LOCK_ID
from starform_core.errors import StoreError

__all__ = ["migrate_job_queue"]


def _migration_files() -> list[pathlib.Path]:
    folder = pathlib.Path(SchemaManager.get_migrations_path())
    return sorted(p for p in folder.glob("*.sql"))


def migrate_job_queue(conninfo: str) -> list[str]:
    """Apply the job queue schema or its pending upgrades; returns what this call applied."""
    applied: list[str] = []
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS job_queue_migrations ("
                    " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = {r[0] for r in conn.execute("SELECT name FROM job_queue_migrations")}
                files = _migration_files()
                if not done:
                    with conn.transaction():
                        conn.execute(SchemaManager.get_schema().encode())
                        for path in files:
                            conn.execute("INSERT INTO job_queue_migrations (name) VALUES (%s)", (path.name,))
                    return ["schema.sql"]
                for path in files:
                    if path.name in done:
                        continue
                    with conn.transaction():
                        conn.execute(path.read_bytes())
                        conn.execute("INSERT INTO job_queue_migrations (name) VALUES (%s)", (path.name,))
                    applied.append(path.name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    except psycopg.Error as exc:
        raise StoreError(f"job queue migration failed: {type(exc).__name__}") from exc
    return applied
