"""Migrations: from an empty database, re-running is a no-op, racing runners are serialised."""

from __future__ import annotations

import threading

import psycopg
import pytest

from starform_adapters.postgres.migrations import (
    MIGRATION_LOCK_ID,
    Migration,
    available_migrations,
    migrate,
)
from starform_adapters.postgres.testing import fresh_database
from starform_core.errors import StoreError

EXPECTED_TABLES = {
    "users",
    "api_tokens",
    "workspaces",
    "workspace_members",
    "regions",
    "clusters",
    "agent_state",
    "agent_report_refusals",
    "projects",
    "project_members",
    "environments",
    "services",
    "deployments",
    "var_groups",
    "var_group_entries",
    "service_var_groups",
    "volumes",
    "hostnames",
    "agent_reports",
    "service_status",
    "events",
    "audit_log",
    "schema_migrations",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }


def test_migrates_an_empty_database_and_rerunning_is_a_no_op(pg_server: str) -> None:
    versions = [m.version for m in available_migrations()]
    assert versions[0] == 1
    with fresh_database(pg_server) as url:
        assert _tables(url) == set()
        assert migrate(url) == versions
        assert _tables(url) == EXPECTED_TABLES
        assert migrate(url) == []
        with psycopg.connect(url) as conn:
            recorded = conn.execute("SELECT version FROM schema_migrations").fetchall()
        assert [r[0] for r in recorded] == versions


def test_racing_runners_apply_each_migration_once(pg_server: str) -> None:
    with fresh_database(pg_server) as url:
        results: list[list[int]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def run() -> None:
            try:
                barrier.wait()
                results.append(migrate(url))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(results, key=len) == [[], [], [], [m.version for m in available_migrations()]]


def test_a_runner_waits_for_the_advisory_lock(pg_server: str) -> None:
    with fresh_database(pg_server) as url, psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        done = threading.Event()
        result: list[list[int]] = []

        def run() -> None:
            result.append(migrate(url))
            done.set()

        runner = threading.Thread(target=run)
        runner.start()
        waiting = threading.Event()
        seen = False
        for _ in range(1000):  # until the runner's lock request shows up as not granted
            row = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            if row and row[0] == 1:
                seen = True
                break
            waiting.wait(0.01)
        assert seen, "the runner never queued on the advisory lock"
        assert not done.is_set(), "the runner must not migrate while another holds the lock"
        assert _tables(url) == set()
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        runner.join()
        assert result == [[m.version for m in available_migrations()]]


def test_an_edited_applied_migration_is_refused(pg_server: str) -> None:
    with fresh_database(pg_server) as url:
        migrate(url, migrations=[Migration(version=1, name="t", sql="CREATE TABLE t (a int)")])
        with pytest.raises(StoreError, match="changed after it was applied"):
            migrate(url, migrations=[Migration(version=1, name="t", sql="CREATE TABLE t (b int)")])


def test_a_failing_migration_leaves_nothing_behind(pg_server: str) -> None:
    with fresh_database(pg_server) as url:
        bad = Migration(version=1, name="bad", sql="CREATE TABLE ok (a int); SELECT * FROM missing")
        with pytest.raises(StoreError):
            migrate(url, migrations=[bad])
        assert _tables(url) == {"schema_migrations"}
