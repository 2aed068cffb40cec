"""Migrations (yoyo): from an empty database, re-running is a no-op, racing runners are
serialised by the advisory lock, a killed runner leaves no lock behind, edited or clashing files
are refused, and databases migrated by the earlier hand-written runner upgrade cleanly."""

from __future__ import annotations

import getpass
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from tests.starbase.legacy_runner import legacy_migrate, shipped_files

from starform_adapters.postgres.migrations import MIGRATION_LOCK_ID, available_migrations, migrate
from starform_core.errors import StoreError
from starform_testkit.postgres import fresh_database

STARBASE_TABLES = {
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
    "templates",
    "adoptions",
    "service_objects",
}
BOOKKEEPING = {"schema_migrations", "_yoyo_migration", "_yoyo_log", "_yoyo_version"}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }


def _recorded(url: str) -> tuple[list[tuple[int, str]], list[str]]:
    """(version, checksum) from schema_migrations and the ids yoyo records as applied."""
    with psycopg.connect(url) as conn:
        ledger = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
        ids = conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id").fetchall()
    return [(int(v), str(c)) for v, c in ledger], [str(i[0]) for i in ids]


def _shipped() -> tuple[list[int], list[str]]:
    migrations = available_migrations()
    return [m.version for m in migrations], [m.label for m in migrations]


def _write(folder: pathlib.Path, name: str, sql: str) -> str:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(sql)
    return str(folder)


def _wait_until(condition: Callable[[], bool], what: str, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        pause.wait(0.02)


def _waiting_on_advisory_lock(conn: psycopg.Connection[tuple[object, ...]], objid: int) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND ((classid::bigint << 32) | objid::bigint) = %s",
        (objid,),
    ).fetchone()
    return bool(row and row[0])


def test_migrates_an_empty_database_and_rerunning_is_a_no_op(pg_server: str) -> None:
    versions, labels = _shipped()
    assert versions[0] == 1
    assert versions == sorted(versions)
    with fresh_database(pg_server) as url:
        assert _tables(url) == set()
        assert migrate(url) == versions
        assert _tables(url) == STARBASE_TABLES | BOOKKEEPING
        assert migrate(url) == []
        ledger, ids = _recorded(url)
    assert ledger == [(m.version, m.checksum) for m in available_migrations()]
    assert ids == labels


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
        assert sorted(results, key=len) == [[], [], [], _shipped()[0]]
        assert _recorded(url)[1] == _shipped()[1]


def test_a_runner_waits_for_the_advisory_lock(pg_server: str) -> None:
    with fresh_database(pg_server) as url, psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        result: list[list[int]] = []
        runner = threading.Thread(target=lambda: result.append(migrate(url)))
        runner.start()
        _wait_until(lambda: _waiting_on_advisory_lock(holder, MIGRATION_LOCK_ID), "the runner queues")
        assert result == [], "the runner must not migrate while another holds the lock"
        assert _tables(url) == set()
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        runner.join(timeout=60)
        assert result == [_shipped()[0]]


def test_a_runner_killed_mid_migration_leaves_no_lock_behind(pg_server: str, tmp_path: pathlib.Path) -> None:
    """Unlike a lock row, the advisory lock goes with the dead runner's connection."""
    gate = 0x5354_4152_4253_00FF
    source = _write(
        tmp_path / "m", "0001_waits.sql", f"SELECT pg_advisory_lock({gate});\nCREATE TABLE t (a int);"
    )
    with fresh_database(pg_server) as url, psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (gate,))
        code = (
            "import sys; from starform_adapters.postgres.migrations import migrate;"
            " migrate(sys.argv[1], source=sys.argv[2])"
        )
        victim = subprocess.Popen([sys.executable, "-c", code, url, source])
        try:
            _wait_until(lambda: _waiting_on_advisory_lock(holder, gate), "the runner is mid-migration")
        finally:
            victim.kill()
            victim.wait(timeout=30)
        holder.execute("SELECT pg_advisory_unlock(%s)", (gate,))  # the dead runner's backend finishes
        assert migrate(url, source=source) == [1]
        assert "t" in _tables(url)


def test_an_edited_applied_migration_is_refused(pg_server: str, tmp_path: pathlib.Path) -> None:
    source = _write(tmp_path / "m", "0001_t.sql", "CREATE TABLE t (a int);")
    with fresh_database(pg_server) as url:
        assert migrate(url, source=source) == [1]
        _write(tmp_path / "m", "0001_t.sql", "CREATE TABLE t (b int);")
        _write(tmp_path / "m", "0002_u.sql", "CREATE TABLE u (a int);")
        with pytest.raises(StoreError, match="0001_t was changed after it was applied"):
            migrate(url, source=source)
        assert "u" not in _tables(url), "nothing is applied after a refusal"


def test_two_files_of_one_version_and_bad_names_are_refused(pg_server: str, tmp_path: pathlib.Path) -> None:
    clash = _write(tmp_path / "clash", "0004_agent_reports.sql", "CREATE TABLE a (x int);")
    _write(tmp_path / "clash", "0004_billing.sql", "CREATE TABLE b (x int);")
    odd = _write(tmp_path / "odd", "4-billing.sql", "CREATE TABLE b (x int);")
    with fresh_database(pg_server) as url:
        with pytest.raises(StoreError, match="0004_agent_reports and 0004_billing share a version"):
            migrate(url, source=clash)
        with pytest.raises(StoreError, match="NNNN_lower_case_words"):
            migrate(url, source=odd)
        assert _tables(url) == set()


def test_a_failing_migration_leaves_nothing_behind(pg_server: str, tmp_path: pathlib.Path) -> None:
    source = _write(tmp_path / "m", "0001_fine.sql", "CREATE TABLE fine (a int);")
    _write(tmp_path / "m", "0002_bad.sql", "CREATE TABLE half (a int);\nSELECT * FROM missing;")
    with fresh_database(pg_server) as url:
        with pytest.raises(StoreError, match="UndefinedTable"):
            migrate(url, source=source)
        assert _tables(url) == BOOKKEEPING | {"fine"}
        assert _recorded(url)[1] == ["0001_fine"]
        _write(tmp_path / "m", "0002_bad.sql", "CREATE TABLE half (a int);")  # not applied: editable
        assert migrate(url, source=source) == [2]


def test_new_numbered_files_merge_in_between_applied_ones(pg_server: str, tmp_path: pathlib.Path) -> None:
    """0004 (agent reports) and 0006 (billing) arrive after 0005 was applied: both are applied."""
    source = _write(tmp_path / "m", "0003_a.sql", "CREATE TABLE a (x int);")
    _write(tmp_path / "m", "0005_c.sql", "CREATE TABLE c (x int);")
    with fresh_database(pg_server) as url:
        assert migrate(url, source=source) == [3, 5]
        _write(tmp_path / "m", "0004_b.sql", "CREATE TABLE b (x int);")
        _write(tmp_path / "m", "0006_d.sql", "CREATE TABLE d (x int);")
        assert migrate(url, source=source) == [4, 6]
        assert {"a", "b", "c", "d"} <= _tables(url)


def test_a_database_of_the_earlier_runner_upgrades_cleanly(pg_server: str) -> None:
    versions, labels = _shipped()
    with fresh_database(pg_server) as url:
        assert legacy_migrate(url) == versions
        before, _ = _recorded_legacy(url)
        assert migrate(url) == [], "everything the old runner applied counts as applied"
        ledger, ids = _recorded(url)
        assert ledger == before
        assert ids == labels
        assert migrate(url) == []


def test_a_partly_migrated_database_of_the_earlier_runner_gets_the_rest(pg_server: str) -> None:
    versions, _ = _shipped()
    with fresh_database(pg_server) as url:
        assert legacy_migrate(url, up_to=3) == [v for v in versions if v <= 3]
        assert migrate(url) == [v for v in versions if v > 3]
        assert _recorded(url)[1] == _shipped()[1]
        with psycopg.connect(url) as conn:
            columns = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_tokens'"
                )
            }
        assert "expires_at" in columns, "0005 ran"


def test_an_earlier_runners_record_of_an_edited_file_is_refused(pg_server: str) -> None:
    with fresh_database(pg_server) as url:
        legacy_migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE schema_migrations SET checksum = 'not-what-shipped' WHERE version = 1")
        with pytest.raises(StoreError, match="0001_initial was changed"):
            migrate(url)


def test_a_uid_without_a_user_name_can_migrate(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Containers often run as a uid with no passwd entry; yoyo's log names the uid then."""

    def nameless() -> str:
        raise KeyError("getpwuid(): uid not found: 65532")

    monkeypatch.setattr(getpass, "getuser", nameless)
    with fresh_database(pg_server) as url:
        assert migrate(url) == _shipped()[0]
        with psycopg.connect(url) as conn:
            users = {r[0] for r in conn.execute("SELECT username FROM _yoyo_log")}
    assert len(users) == 1
    assert next(iter(users)).startswith("uid ")


def test_the_legacy_runner_applies_the_shipped_files() -> None:
    """The upgrade tests' premise: the legacy runner sees exactly the shipped migrations."""
    assert [(v, n) for v, n, _ in shipped_files()] == [(m.version, m.name) for m in available_migrations()]


def _recorded_legacy(url: str) -> tuple[list[tuple[int, str]], set[str]]:
    with psycopg.connect(url) as conn:
        ledger = conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY version").fetchall()
    return [(int(v), str(c)) for v, c in ledger], _tables(url)
