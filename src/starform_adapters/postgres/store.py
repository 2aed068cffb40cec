"""The PostgreSQL store: every repository mixin behind one object implementing the store port."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starform_adapters.postgres.repo_agents import AgentRepository
from starform_adapters.postgres.repo_services import ServiceRepository
from starform_adapters.postgres.repo_tenancy import TenancyRepository
from starform_adapters.postgres.repo_tokens import TokenRepository
from starform_adapters.postgres.repo_vars import VarGroupRepository
from starform_core.ports.store import Store
from starform_core.ports.tokens import ApiTokenStore

__all__ = ["PostgresStore"]


class PostgresStore(
    TenancyRepository, ServiceRepository, VarGroupRepository, AgentRepository, TokenRepository
):
    """Starbase's system of record on PostgreSQL (psycopg 3 pool, AES-256-GCM var values).

    It implements the :class:`~starform_core.ports.store.Store` port and the
    :class:`~starform_core.ports.tokens.ApiTokenStore` port.

    Construct it with an open pool (:func:`~starform_adapters.postgres.pool.open_pool`) and a
    :class:`~starform_adapters.postgres.crypto.VarCipher`; the schema must be migrated first.
    """

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()


if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from starform_adapters.postgres.crypto import VarCipher

    def _conforms(pool: ConnectionPool, cipher: VarCipher) -> Store:
        return PostgresStore(pool, cipher)

    def _conforms_tokens(pool: ConnectionPool, cipher: VarCipher) -> ApiTokenStore:
        return PostgresStore(pool, cipher)
