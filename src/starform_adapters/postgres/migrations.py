"""Schema migrations: plain SQL files applied by yoyo-migrations, each once, under an advisory lock.

The files ``migrations/NNNN_name.sql`` ship as package data. `yoyo`_ applies the pending ones in
file order and records them in its ``_yoyo_migration`` and ``_yoyo_log`` tables. Starbase
configures four things yoyo leaves open:

- **apply and record are one transaction**: each file's statements, yoyo's records and the
  checksum row commit together or not at all, so a runner killed mid-way leaves the migration
  either applied and recorded or not applied (yoyo alone applies on a second connection and
  records afterwards). A file that must run outside a transaction, such as
  ``CREATE INDEX CONCURRENTLY``, starts with ``-- transactional: false``; it is applied, then
  recorded, so write it to be re-runnable (``IF NOT EXISTS``);
- **the lock** is PostgreSQL's session advisory lock :data:`MIGRATION_LOCK_ID`, not yoyo's lock
  row: replicas starting together wait for the one migrating and then find nothing to do, and a
  process killed mid-migration never leaves a stale lock behind (the server drops it with the
  connection);
- **checksums**: ``schema_migrations (version, name, checksum, applied_at)`` keeps the SHA-256 of
  every applied file, written in the transaction that records it; an applied file edited
  afterwards makes :func:`migrate` refuse to run (add a new migration instead), and two files
  sharing a version number are refused;
- **adoption**: a database migrated by Starbase's earlier hand-written runner (rows in
  ``schema_migrations``, no yoyo tables) has those versions marked applied in yoyo, after their
  checksums are verified, so it upgrades cleanly.

.. _yoyo: https://ollycope.com/software/yoyo/latest/
"""

from __future__ import annotations

import getpass
import hashlib
import os
import pathlib
import re
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import attrs
import psycopg
from yoyo import exceptions as yoyo_errors
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

from starform_core.errors import StoreError

__all__ = ["MIGRATIONS", "MIGRATION_LOCK_ID", "Migration", "available_migrations", "migrate"]

MIGRATION_LOCK_ID = 0x5354_4152_4253_0001
"""The advisory lock key every Starbase replica takes while migrating."""

MIGRATIONS = "package:starform_adapters.postgres:migrations"
"""Where the shipped migrations live (a yoyo source: a directory, or ``package:NAME:DIR``)."""

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)$")

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
    " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


@attrs.frozen
class Migration:
    """One versioned SQL file: ``NNNN_name.sql`` and the SHA-256 of its text."""

    version: int
    name: str
    checksum: str

    @property
    def label(self) -> str:
        """``0005_security``: the file name without ``.sql`` (yoyo's migration id)."""
        return f"{self.version:04d}_{self.name}"


def _described(found: Any) -> Migration:
    match = _NAME.match(found.id)
    if match is None:
        raise StoreError(f"migration {found.id!r}: name it NNNN_lower_case_words.sql")
    text = pathlib.Path(found.path).read_text("utf-8")  # yoyo parses a file only if it is pending
    checksum = hashlib.sha256(text.encode()).hexdigest()
    return Migration(version=int(match[1]), name=match[2], checksum=checksum)


def _read(source: str) -> tuple[Any, dict[str, Migration]]:
    """yoyo's migration list for ``source`` and our description of each, by id (checked)."""
    try:
        found = read_migrations(source)
        described = {m.id: _described(m) for m in found}
    except (yoyo_errors.BadMigration, yoyo_errors.MigrationConflict) as exc:
        raise StoreError(f"unreadable migration: {exc}") from exc
    versions: dict[int, str] = {}
    for label, migration in described.items():
        if migration.version in versions:
            raise StoreError(f"migrations {versions[migration.version]} and {label} share a version number")
        versions[migration.version] = label
    return found, described


def available_migrations(source: str = MIGRATIONS) -> list[Migration]:
    """Every migration of ``source`` (the shipped ones by default), in version order."""
    return sorted(_read(source)[1].values(), key=lambda m: m.version)


class _Backend(PostgresqlPsycopgBackend):  # type: ignore[misc]  # yoyo ships no type hints
    """yoyo's psycopg 3 backend on a libpq conninfo, with the advisory lock and the checksums."""

    described: dict[str, Migration]
    _is_locked: bool
    """The run's migrations by id (set by :func:`migrate` before anything is marked)."""

    def connect(self, dburi: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(dburi.args["conninfo"], autocommit=True)

    @contextmanager
    def lock(self, timeout: int = 0) -> Iterator[None]:
        """Hold the advisory lock (re-entrant within this backend).

        ``timeout`` (yoyo's lock-row wait) does not apply: a replica waits as long as the one
        migrating takes, and a dead one's lock is released by the server.
        """
        if self._is_locked:
            yield
            return
        self.connection.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        self._is_locked = True
        try:
            yield
        finally:
            self._is_locked = False
            self.connection.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))

    def apply_one(self, migration: Any, force: bool = False, mark: bool = True) -> None:
        """Apply a migration and record it (yoyo's rows and the checksum) in one transaction.

        yoyo runs a migration's statements on a second connection and records it afterwards on
        this one, so a process killed in between would leave it applied but unrecorded (and the
        next run would apply it again). Here the statements run on this connection inside one
        transaction that also writes the records: PostgreSQL's DDL is transactional, and yoyo's
        per-step transactions nest as savepoints. A file marked ``-- transactional: false``
        cannot share a transaction; it keeps yoyo's order (applied, then recorded).
        """
        migration.load()
        if not migration.use_transactions:
            super().apply_one(migration, force=force, mark=mark)
            return
        self.ensure_internal_schema_updated()
        with self.transaction():
            migration.process_steps(self, "apply", force=force)
            self.log_migration(migration, "apply")
            if mark:
                self.mark_one(migration, log=False)

    def mark_one(self, migration: Any, log: bool = True) -> None:
        """yoyo's record of an applied migration, and its checksum in the same transaction."""
        super().mark_one(migration, log=log)
        described = self.described[migration.id]
        self.connection.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
            " ON CONFLICT (version) DO NOTHING",
            (described.version, described.name, described.checksum),
        )

    def get_log_data(self, migration: Any = None, operation: str = "apply") -> dict[str, Any]:
        """yoyo's log row; a process whose uid has no user name (a container's) logs the uid."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid {os.getuid()}"
        return {
            "id": str(uuid.uuid1()),
            "migration_id": None if migration is None else migration.id,
            "migration_hash": None if migration is None else migration.hash,
            "username": user,
            "hostname": socket.gethostname(),
            "created_at_utc": datetime.now(UTC).replace(tzinfo=None),
            "operation": operation,
        }


def _verify(backend: _Backend, found: Any, described: dict[str, Migration]) -> None:
    """Refuse edited applied files; mark versions applied by the earlier runner in yoyo too."""
    recorded = dict(backend.connection.execute("SELECT version, checksum FROM schema_migrations").fetchall())
    for label, migration in described.items():
        if migration.version in recorded and recorded[migration.version] != migration.checksum:
            raise StoreError(
                f"migration {label} was changed after it was applied; add a new migration instead"
            )
    applied = set(backend.get_applied_migration_hashes())
    adopted = [m for m in found if described[m.id].version in recorded and m.hash not in applied]
    if adopted:
        backend.mark_migrations(found.replace(adopted))


def _apply(backend: _Backend, source: str) -> list[int]:
    found, described = _read(source)
    backend.described = described
    with backend.lock():
        backend.connection.execute(_LEDGER)
        _verify(backend, found, described)
        pending: Sequence[Any] = backend.to_apply(found)
        backend.apply_migrations(pending)
    return [described[m.id].version for m in pending]


def migrate(conninfo: str, *, source: str = MIGRATIONS) -> list[int]:
    """Apply pending migrations; returns the versions applied by this call (``[]``: up to date).

    ``source`` is a yoyo source (a directory of ``NNNN_name.sql`` files, or ``package:NAME:DIR``).
    """
    uri = parse_uri("postgresql+psycopg://")._replace(args={"conninfo": conninfo})
    try:
        backend = _Backend(uri, default_migration_table)
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: cannot connect: {type(exc).__name__}") from exc
    try:
        return _apply(backend, source)
    except psycopg.Error as exc:
        message = (exc.diag.message_primary if exc.diag else None) or "no details"
        raise StoreError(f"migration failed: {type(exc).__name__}: {message}") from exc
    finally:
        backend.connection.close()
