"""Shuttle's durable state: one SQLite database in the state directory (WAL, fsync on commit).

It holds the last good payload, the generation applied in full and the outbox of reports, so
a restart enforces what was last accepted and sends what was not delivered. The file (and
SQLite's ``-wal``/``-shm`` files, which inherit its mode) is ``0600``: the payload carries
secret values. A file that is not a database is moved aside (``state.db.corrupt-<time>``) and
a fresh one is started, with an error logged: Shuttle then waits for Starbase.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from starform_core.errors import AgentStateError

__all__ = ["SCHEMA_VERSION", "StateDB"]

_log = logging.getLogger("starform.shuttle.state")

SCHEMA_VERSION: Final = 2
_INTENT_PAYLOAD: Final = """
CREATE TABLE intent_payload (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    body       BLOB NOT NULL,
    etag       TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    stored_at  REAL NOT NULL
);
"""
"""Version 2: the payload open intents were made for, once a newer one replaced it as held."""
_MIGRATIONS: Final = {1: _INTENT_PAYLOAD}
"""What takes a database from version ``key`` to ``key + 1``."""
_SCHEMA: Final = (
    """
CREATE TABLE payload (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    body       BLOB NOT NULL,
    etag       TEXT NOT NULL,
    epoch      INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    stored_at  REAL NOT NULL
);
CREATE TABLE applied (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    epoch      INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    applied_at REAL NOT NULL
);
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('ready', 'intent')),
    pinned     INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX outbox_queue ON outbox (kind, state, seq);
"""
    + _INTENT_PAYLOAD
)


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (never readable by others)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the schema in a new database, or bring an older one up to :data:`SCHEMA_VERSION`."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        conn.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        return
    if version > SCHEMA_VERSION:
        raise AgentStateError(
            f"{path} has schema version {version}; this Shuttle reads version {SCHEMA_VERSION} or older"
        )
    while version < SCHEMA_VERSION:
        conn.executescript(f"BEGIN; {_MIGRATIONS[version]} PRAGMA user_version = {version + 1}; COMMIT;")
        _log.info("state database upgraded", extra={"path": str(path), "schema_version": version + 1})
        version += 1


class StateDB:
    """A thread-safe connection to ``<directory>/state.db`` with the schema in place."""

    FILE = "state.db"

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path = directory / self.FILE
            _create_private(self.path)
            os.chmod(self.path, 0o600)
            self._conn = self._open()
        except OSError as exc:
            raise AgentStateError(f"state directory {directory}: {exc.strerror or exc}") from exc
        self._lock = threading.RLock()

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.FILE}.corrupt-{int(time.time())}")
            _log.error(
                "the state database is unreadable; moved aside, starting afresh",
                extra={"path": str(self.path), "moved_to": str(aside), "error": str(exc)},
            )
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.path}{suffix}")
                if source.exists():
                    source.rename(f"{aside}{suffix}")
            _create_private(self.path)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a commit survives a power cut, not only a crash
            _migrate(conn, self.path)
            conn.execute("PRAGMA quick_check").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed, and on disk, when the block ends."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise AgentStateError(f"state database {self.path}: {exc}") from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read."""
        with self._lock:
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise AgentStateError(f"state database {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection (a checkpoint folds the WAL into the database file)."""
        with self._lock:
            self._conn.close()
