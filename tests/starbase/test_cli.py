"""The ``starbase`` command line against a real database (DATABASE_URL)."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from starform_adapters.postgres import PostgresStore, VarCipher, open_pool
from starform_apps.starbase.cli import main
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.embedded import load_cipher
from starform_apps.starbase.tokens import hash_token
from starform_core.errors import StoreNotFoundError
from starform_testkit.postgres import fresh_database

KEY = base64.b64encode(b"c" * 32).decode()


@pytest.fixture
def cli_db(pg_server: str) -> Iterator[str]:
    with fresh_database(pg_server) as url:
        yield url


def _run(url: str, *args: str, key: str | None = KEY) -> tuple[int, str]:
    env = {"DATABASE_URL": url}
    if key:
        env["ENCRYPTION_KEY"] = key
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_migrate_user_token_and_cluster_register(cli_db: str) -> None:
    shipped = "cron-job v1, minecraft-server v1, web-app v1, worker v1"
    assert _run(cli_db, "migrate") == (
        0,
        "applied [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\njob queue: applied schema.sql\n"
        f"templates: published {shipped}\n",
    )
    assert _run(cli_db, "migrate") == (0, "schema is up to date\ntemplates: up to date\n")
    code, out = _run(cli_db, "user", "create", "--email", "ops@example.com", "--operator")
    assert code == 0
    assert out.startswith("user_id: ")
    code, out = _run(cli_db, "user", "create", "--email", "ops@example.com")
    assert code != 0
    assert "already exists" in out
    code, token = _run(cli_db, "token", "create", "--user", "dev@example.com")
    assert code == 0
    token = token.strip()
    assert token.startswith("sbu_")
    code, out = _run(
        cli_db,
        "cluster",
        "register",
        "--name",
        "fra1-a",
        "--region",
        "fra1",
        "--gateway",
        "envoy-gateway-system/starform",
        "--lb-service",
        "envoy/lb",
        "--lb-size-unit",
        "2",
        "--egress-allow",
        "10.110.0.0/20",
    )
    assert code == 0, out
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    pool = open_pool(cli_db, max_size=1)
    try:
        store = PostgresStore(pool, VarCipher.from_base64(KEY))
        assert store.authenticate(hash_token(token)).user.email == "dev@example.com"
        cluster = store.get_cluster(lines["cluster_id"])
        assert (cluster.name, cluster.lb_size_unit, cluster.generation) == ("fra1-a", 2, 1)
        assert cluster.egress_allow == ("10.110.0.0/20",)
        assert store.cluster_token_hash(cluster.cluster_id) == hash_token(lines["agent_token"])
    finally:
        pool.close()


def test_bad_gateway_and_missing_key_are_clear(cli_db: str) -> None:
    code, out = _run(cli_db, "cluster", "register", "--name", "x", "--region", "r", "--gateway", "nope")
    assert code == 2
    assert "NAMESPACE/NAME" in out
    code, out = _run(cli_db, "serve", "--port", "0", key=None)
    assert code == 1
    assert "ENCRYPTION_KEY is not set" in out


def test_embedded_mode_generates_and_keeps_a_private_key(tmp_path: Path) -> None:
    config = StarbaseConfig.from_env({})
    first = load_cipher(config, generate_in=tmp_path)
    second = load_cipher(config, generate_in=tmp_path)
    assert first.key_id == second.key_id
    mode = stat.S_IMODE((tmp_path / "encryption.key").stat().st_mode)
    assert mode == 0o600
    assert "ENCRYPTION" not in repr(config)
    assert KEY not in repr(StarbaseConfig.from_env({"ENCRYPTION_KEY": KEY}))


def _commands() -> list[list[str]]:
    """Every command path of ``starbase`` (groups and leaves)."""
    import click

    found: list[list[str]] = [[]]

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            found.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(main, [])
    return found


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "starbase")
def test_every_command_has_help_and_version(path: list[str]) -> None:
    runner = CliRunner()
    short = runner.invoke(main, [*path, "-h"])
    assert short.exit_code == 0, short.output
    assert "Usage:" in short.output
    assert short.output == runner.invoke(main, [*path, "--help"]).output
    version = runner.invoke(main, [*path, "--version"])
    assert version.exit_code == 0, version.output
    assert version.output.startswith("starbase, version ")


USER_ERRORS = {
    "unknown command": (["nope"], {}, 2, "No such command"),
    "bad pool size": (["migrate"], {"STARBASE_POOL_MAX_SIZE": "lots"}, 1, "STARBASE_POOL_MAX_SIZE"),
    "bad log level": (["migrate"], {"STARBASE_LOG_LEVEL": "loud"}, 1, "STARBASE_LOG_LEVEL"),
    "bad rate": (["migrate"], {"STARBASE_RATE_LIMIT_USER": "many"}, 1, "STARBASE_RATE_LIMIT_USER"),
    "bad metrics address": (
        ["migrate"],
        {"STARBASE_METRICS_ADDRESS": "nowhere"},
        1,
        "STARBASE_METRICS_ADDRESS",
    ),
    "unreachable database": (
        ["migrate"],
        {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"},
        1,
        "migration failed",
    ),
    "bad encryption key": (
        ["user", "create", "--email", "a@b.io"],
        {"ENCRYPTION_KEY": "not-base64!"},
        1,
        "base64",
    ),
    "bad port": (["serve", "--port", "99999"], {}, 2, "--port"),
    "scoped token without a role": (
        ["token", "create", "--user", "a@b.io", "--project", "7d1f0d1e-0000-4000-8000-000000000000"],
        {},
        2,
        "--role",
    ),
    "token of nobody": (["token", "list", "--user", "nobody@example.com"], {}, 1, "no user has this email"),
    "revoke an unknown token": (
        ["token", "revoke", "--user", "dev@example.com", "7d1f0d1e-0000-4000-8000-000000000000"],
        {},
        1,
        "error",
    ),
    "rate limit storage": (
        ["serve", "--port", "0"],
        {"STARBASE_RATE_LIMIT_STORAGE": "ftp://x"},
        1,
        "STORAGE",
    ),
}


@pytest.mark.parametrize("name", sorted(USER_ERRORS))
def test_user_errors_are_a_message_not_a_traceback(cli_db: str, name: str) -> None:
    args, env, code, words = USER_ERRORS[name]
    _run(cli_db, "token", "create", "--user", "dev@example.com")
    result = CliRunner().invoke(main, args, env={"DATABASE_URL": cli_db, "ENCRYPTION_KEY": KEY, **env})
    assert result.exit_code == code, result.output
    assert words.lower() in result.output.lower(), result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)


def test_tokens_from_the_command_line(cli_db: str) -> None:
    code, first = _run(
        cli_db, "token", "create", "--user", "ci@example.com", "--name", "gha", "--expires-in-days", "7"
    )
    assert code == 0, first
    code, listing = _run(cli_db, "token", "list", "--user", "ci@example.com")
    assert code == 0, listing
    header, row = listing.strip().splitlines()
    assert header.split("\t") == ["id", "name", "scope", "state", "created", "expires", "last_used"]
    token_id, name, scope, state = row.split("\t")[:4]
    assert (name, scope, state) == ("gha", "all", "active")
    assert first.strip() not in listing
    code, second = _run(cli_db, "token", "rotate", "--user", "ci@example.com", token_id)
    assert code == 0, second
    pool = open_pool(cli_db, max_size=1)
    try:
        store = PostgresStore(pool, VarCipher.from_base64(KEY))
        with pytest.raises(StoreNotFoundError):
            store.authenticate(hash_token(first.strip()))
        rotated = store.authenticate(hash_token(second.strip()))
        code, out = _run(cli_db, "token", "revoke", "--user", "ci@example.com", rotated.token_id)
        assert (code, out.strip()) == (0, f"revoked {rotated.token_id}")
        with pytest.raises(StoreNotFoundError):
            store.authenticate(hash_token(second.strip()))
    finally:
        pool.close()
