"""Fixtures: one embedded PostgreSQL per session, a fresh migrated database per module."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from tests.starbase.logbuffer import LOG_BUFFER
from tests.starbase.store_kit import STORE_IMPLEMENTATIONS, StoreUnderTest

from starform_adapters.postgres import PostgresStore, VarCipher, migrate, open_pool
from starform_apps.starbase.logs import configure_logging
from starform_testkit.postgres import fresh_database, postgres_server
from starform_testkit.starbase import RunningStarbase, running_starbase

TEST_KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(scope="session", autouse=True)
def _json_logs() -> None:
    """Send Starbase's structured logs to an in-memory buffer (JSON lines)."""
    configure_logging("info", stream=LOG_BUFFER)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The session's PostgreSQL server URL (embedded, or DATABASE_URL)."""
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="module")
def database_url(pg_server: str) -> Iterator[str]:
    """A fresh, migrated database for the module."""
    with fresh_database(pg_server) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def cipher() -> VarCipher:
    """The test encryption key."""
    return VarCipher.from_base64(TEST_KEY)


@pytest.fixture(scope="module")
def postgres_store(database_url: str, cipher: VarCipher) -> Iterator[PostgresStore]:
    """A PostgreSQL store on the module's database."""
    pool = open_pool(database_url, max_size=8)
    yield PostgresStore(pool, cipher)
    pool.close()


@pytest.fixture(scope="module")
def store(postgres_store: PostgresStore) -> PostgresStore:
    """The module's PostgreSQL store (tests of what only PostgreSQL shows)."""
    return postgres_store


@pytest.fixture(params=STORE_IMPLEMENTATIONS)
def any_store(request: pytest.FixtureRequest) -> StoreUnderTest:
    """Each store implementation in turn, for the contract suite."""
    if request.param == "postgres":
        postgres: PostgresStore = request.getfixturevalue("postgres_store")
        return postgres
    raise AssertionError(f"no construction for store implementation {request.param!r}")


@pytest.fixture(scope="module")
def starbase(pg_server: str) -> Iterator[RunningStarbase]:
    """A Starbase serving on a real socket over a fresh database (one per module)."""
    with running_starbase(server_url=pg_server) as running:
        yield running


@pytest.fixture(scope="module")
def client(starbase: RunningStarbase) -> Iterator[httpx.Client]:
    """An HTTP client for the module's Starbase."""
    with httpx.Client(base_url=starbase.base_url, timeout=30) as http:
        yield http
