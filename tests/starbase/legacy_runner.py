"""Starbase's earlier, hand-written migration runner (until issue 13), kept to build the databases
it left behind: ``schema_migrations (version, name, checksum)`` rows and no yoyo tables.

Only the upgrade tests use it; it applies the same shipped SQL files the way that runner did.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import psycopg

LEGACY_LOCK_ID = 0x5354_4152_4253_0001
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def shipped_files() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every shipped migration, in version order."""
    found = []
    for entry in resources.files("starform_adapters.postgres").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found)


def legacy_migrate(conninfo: str, *, up_to: int | None = None) -> list[int]:
    """Apply the shipped migrations up to version ``up_to`` exactly as the old runner did."""
    applied: list[int] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LEGACY_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in shipped_files():
            if version in done or (up_to is not None and version > up_to):
                continue
            with conn.transaction():
                conn.execute(sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (version, name, hashlib.sha256(sql.encode()).hexdigest()),
                )
            applied.append(version)
        conn.execute("SELECT pg_advisory_unlock(%s)", (LEGACY_LOCK_ID,))
    return applied
