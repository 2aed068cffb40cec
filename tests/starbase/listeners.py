"""How many Starbase change listeners an embedded PostgreSQL server has connected."""

from __future__ import annotations

from pathlib import Path

import psycopg


def change_listeners(data_dir: Path) -> int:
    """How many change listeners (one per Starbase process) are connected to the embedded server."""
    socket_dir = next(data_dir.glob("postgres/**/postmaster.pid")).parent
    with psycopg.connect(f"postgresql://postgres:@/postgres?host={socket_dir}", autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'starbase-listener'"
        ).fetchone()
    return int(row[0]) if row else 0
