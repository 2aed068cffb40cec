"""Migrations (yoyo): from an empty database, re-running is a no-op, racing runners are
serialised by the advisory lock, a killed runner leaves no lock behind, edited or clashing files
are refused, and databases migrated by the earlier hand-written runner upgrade cleanly."""

from __future__ import annotations

import getpass
import pathlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import psycopg
import pytest
from tests.starbase.legacy_runner import legacy_migrate, shipped_files

from starform_adapters.postgres.migrations import (
    MIGRATION_LOCK_ID,
    MIGRATIONS,
    available_migrations,
    migrate,
)
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
    # 0007: templates
    "templates",
    # 0006: billing
    "billing_plan_periods",
    "billing_snapshots",
    "billing_cluster_windows",
    "billing_coverage",
    "billing_usage",
    "billing_builds",
    "billing_accounts",
    "billing_invoices",
    "billing_invoice_lines",
    "billing_invoice_events",
    "billing_credit_notes",
    "billing_webhook_events",
    "billing_audit_snapshots",
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


# Apply and record are one transaction: a runner dying between the two leaves the migration
# either applied and recorded, or not applied at all (never applied but unrecorded).

_KILLED_BETWEEN = """
import os, signal, sys
from starform_adapters.postgres import migrations

point = sys.argv[3]
original = getattr(migrations._Backend, point)

def die(self, *args, **kwargs):
    if point == "mark_one":
        original(self, *args, **kwargs)  # the records are written, the commit never comes
    os.kill(os.getpid(), signal.SIGKILL)

setattr(migrations._Backend, point, die)
migrations.migrate(sys.argv[1], source=sys.argv[2])
"""


def _applied_state(url: str) -> tuple[bool, list[str], list[int]]:
    """(the migration's table exists, yoyo's applied ids, the checksum ledger's versions)."""
    ledger, ids = _recorded(url)
    return "t" in _tables(url), ids, [version for version, _ in ledger]


@pytest.mark.parametrize("point", ["log_migration", "mark_one"])
def test_a_runner_killed_between_applying_and_recording_leaves_nothing_half_done(
    pg_server: str, tmp_path: pathlib.Path, point: str
) -> None:
    """SIGKILL after the statements ran (before the records), or after the records (before the
    commit): the database holds neither the table nor a record; the next run applies it once."""
    source = _write(tmp_path / "m", "0001_t.sql", "CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);")
    with fresh_database(pg_server) as url:
        victim = subprocess.run(
            [sys.executable, "-c", _KILLED_BETWEEN, url, source, point], capture_output=True, timeout=120
        )
        assert victim.returncode == -9, victim.stderr.decode()
        assert _applied_state(url) == (False, [], [])
        assert migrate(url, source=source) == [1]
        assert _applied_state(url) == (True, ["0001_t"], [1])
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,), "applied exactly once"


def test_an_error_while_recording_rolls_the_migration_back(
    pg_server: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starform_adapters.postgres import migrations

    source = _write(tmp_path / "m", "0001_t.sql", "CREATE TABLE t (a int);")
    original = migrations._Backend.mark_one

    def failing(self: migrations._Backend, migration: object, log: bool = True) -> None:
        original(self, migration, log=log)
        raise psycopg.OperationalError("the server went away while recording")

    with fresh_database(pg_server) as url:
        monkeypatch.setattr(migrations._Backend, "mark_one", failing)
        with pytest.raises(StoreError, match="OperationalError"):
            migrate(url, source=source)
        assert _applied_state(url) == (False, [], [])
        monkeypatch.undo()
        assert migrate(url, source=source) == [1]
        assert _applied_state(url) == (True, ["0001_t"], [1])


def _synthetic_source(folder: pathlib.Path) -> tuple[str, int]:
    source = _write(folder, "0001_a.sql", "CREATE TABLE a (x int);\nCREATE TABLE b (x int);")
    _write(folder, "0002_c.sql", "CREATE TABLE c (x int);")
    return source, 2


def _shipped_source(_folder: pathlib.Path) -> tuple[str, int]:
    return MIGRATIONS, len(available_migrations())


@pytest.mark.parametrize("make_source", [_synthetic_source, _shipped_source], ids=["synthetic", "shipped"])
def test_a_migrations_steps_nest_in_its_transaction_as_savepoints(
    pg_server: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    make_source: Callable[[pathlib.Path], tuple[str, int]],
) -> None:
    """Each migration: one BEGIN on the runner's own connection, yoyo's step transactions inside
    it as savepoints, its records, one COMMIT (so a failing statement takes its records with it).
    The shipped files (0006 billing, 0007 templates among them) run the same way."""
    from starform_adapters.postgres import migrations

    calls: list[tuple[str, int]] = []
    for name in ("begin", "savepoint", "commit", "rollback", "log_migration", "mark_one"):
        original = getattr(migrations._Backend, name)

        def spy(
            self: migrations._Backend, *args: Any, _name: str = name, _call: Any = original, **kw: Any
        ) -> Any:
            calls.append((_name, id(self.connection)))
            return _call(self, *args, **kw)

        monkeypatch.setattr(migrations._Backend, name, spy)
    source, count = make_source(tmp_path / "m")
    with fresh_database(pg_server) as url:
        assert len(migrate(url, source=source)) == count
    assert len({conn for _, conn in calls}) == 1, "the statements run on the connection that records them"
    kinds = [kind for kind, _ in calls]
    logged = [i for i, kind in enumerate(kinds) if kind == "log_migration"]
    assert len(logged) == count and "rollback" not in kinds
    for index in logged:
        begin = max(i for i in range(index) if kinds[i] == "begin")
        commit = min(i for i in range(index, len(kinds)) if kinds[i] == "commit")
        inside = kinds[begin + 1 : commit]
        assert "savepoint" in inside[: index - begin], kinds
        assert "mark_one" in inside and "begin" not in inside and "commit" not in inside, kinds


def test_a_database_at_0007_without_0006_gets_billing_applied(pg_server: str, tmp_path: pathlib.Path) -> None:
    """Templates (0007) landed before billing (0006): the next run applies 0006 alone, and the
    database then holds every shipped table and the shipped checksums."""
    folder = tmp_path / "without-billing"
    folder.mkdir()
    shipped = pathlib.Path(str(files("starform_adapters.postgres") / "migrations"))
    for path in sorted(shipped.glob("*.sql")):
        if not path.name.startswith("0006_"):
            shutil.copy(path, folder / path.name)
    versions, labels = _shipped()
    with fresh_database(pg_server) as url:
        assert migrate(url, source=str(folder)) == [v for v in versions if v != 6]
        assert "billing_usage" not in _tables(url) and "templates" in _tables(url)
        assert migrate(url) == [6]
        assert _tables(url) == STARBASE_TABLES | BOOKKEEPING
        ledger, ids = _recorded(url)
        assert migrate(url) == []
    assert ledger == [(m.version, m.checksum) for m in available_migrations()]
    assert ids == labels
