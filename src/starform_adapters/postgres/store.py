"""The PostgreSQL store: every repository mixin behind one object implementing the role ports."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starform_adapters.postgres.repo_adoptions import AdoptionRepository
from starform_adapters.postgres.repo_agents import AgentRepository
from starform_adapters.postgres.repo_builds import BuildRepository
from starform_adapters.postgres.repo_dashboard import DashboardRepository
from starform_adapters.postgres.repo_gitpush import GitIntegrationRepository
from starform_adapters.postgres.repo_reconcile import ReconcileRepository
from starform_adapters.postgres.repo_services import ServiceRepository
from starform_adapters.postgres.repo_templates import TemplateRepository
from starform_adapters.postgres.repo_tenancy import TenancyRepository
from starform_adapters.postgres.repo_tokens import TokenRepository
from starform_adapters.postgres.repo_vars import VarGroupRepository

__all__ = ["PostgresStore"]


class PostgresStore(
    AdoptionRepository,
    TemplateRepository,
    BuildRepository,
    GitIntegrationRepository,
    TenancyRepository,
    ServiceRepository,
    VarGroupRepository,
    AgentRepository,
    DashboardRepository,
    TokenRepository,
    ReconcileRepository,
):
    """Starbase's system of record on PostgreSQL (psycopg 3 pool, AES-256-GCM var values).

    It implements every Starbase role port of :mod:`starform_core.ports` (agents, clusters,
    tenancy, services and releases, var groups, dashboard reads, audit, readiness, API tokens,
    templates, GitHub installations and builds);
    the composition root hands each route only the ports it uses.

    Construct it with an open pool (:func:`~starform_adapters.postgres.pool.open_pool`) and a
    :class:`~starform_adapters.postgres.crypto.VarCipher`; the schema must be migrated first.
    """

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()


if TYPE_CHECKING:
    from starform_core.ports import (
        AdoptionStore,
        AgentStore,
        ApiTokenStore,
        AuditLog,
        BuildStore,
        ClusterStore,
        DashboardReads,
        EnvironmentStore,
        GitIntegrationStore,
        Readiness,
        ReconcileStore,
        ReleaseStore,
        ServiceStore,
        TemplateStore,
        TenancyStore,
        VarGroupStore,
    )

    def _conforms(
        store: PostgresStore,
    ) -> tuple[
        AgentStore,
        ClusterStore,
        TenancyStore,
        EnvironmentStore,
        ServiceStore,
        ReleaseStore,
        VarGroupStore,
        DashboardReads,
        AuditLog,
        Readiness,
        ApiTokenStore,
        TemplateStore,
        ReconcileStore,
        GitIntegrationStore,
        BuildStore,
        AdoptionStore,
    ]:
        return (
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
            store,
        )
