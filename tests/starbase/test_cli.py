"""The ``starbase`` command line against a real database (DATABASE_URL)."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from starform_adapters.postgres import PostgresStore, VarCipher, open_pool
from starform_adapters.postgres.testing import fresh_database
from starform_apps.starbase.cli import main
from starform_apps.starbase.config import StarbaseConfig
from starform_apps.starbase.server import load_cipher
from starform_apps.starbase.tokens import hash_token

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
    assert _run(cli_db, "migrate") == (0, "applied [1, 2, 3, 4]\n")
    assert _run(cli_db, "migrate") == (0, "schema is up to date\n")
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
        assert store.user_for_token(hash_token(token)).email == "dev@example.com"
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
