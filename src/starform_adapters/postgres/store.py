"""The PostgreSQL store: every repository mixin behind one object implementing the store port."""

from __future__ import annotations

from starform_adapters.postgres.repo_agents import AgentRepository
from starform_adapters.postgres.repo_services import ServiceRepository
from starform_adapters.postgres.repo_tenancy import TenancyRepository
from starform_adapters.postgres.repo_vars import VarGroupRepository

__all__ = ["PostgresStore"]


class PostgresStore(TenancyRepository, ServiceRepository, VarGroupRepository, AgentRepository):
    """Starbase's system of record on PostgreSQL (psycopg 3 pool, AES-256-GCM var values).

    Construct it with an open pool (:func:`~starform_adapters.postgres.pool.open_pool`) and a
    :class:`~starform_adapters.postgres.crypto.VarCipher`; the schema must be migrated first.
    """

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()
