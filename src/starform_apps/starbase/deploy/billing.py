"""Builder time into billing's usage ledger (``UsageLedger.record_build``), one row per attempt."""

from __future__ import annotations

import datetime as dt

import structlog

from starform_core.build import BuildRecord
from starform_core.errors import StoreNotFoundError
from starform_core.model.tenant import TenantKey
from starform_core.ports import EnvironmentStore, ServiceStore
from starform_core.ports.billing import BuildUsage, UsageLedger

__all__ = ["LedgerBuildMinutes"]

_log = structlog.get_logger("starbase.builds")


class LedgerBuildMinutes:
    """:class:`~.runner.BuildMinutes` on the usage ledger; the build id and attempt make the
    record idempotent (a worker taking over an expired lease does not bill twice)."""

    def __init__(self, ledger: UsageLedger, services: ServiceStore, environments: EnvironmentStore) -> None:
        self._ledger = ledger
        self._services = services
        self._environments = environments

    def record(self, build: BuildRecord, *, started_at: dt.datetime, finished_at: dt.datetime) -> None:
        """Record one attempt's builder time for the build's service."""
        try:
            service = self._services.get_service(build.service_id)
            environment = self._environments.get_environment(service.environment_id)
        except StoreNotFoundError:
            _log.warning("build minutes of a deleted service not billed", build=build.build_id)
            return
        tenant = TenantKey(
            workspace_id=build.workspace_id,
            project_id=service.project_id,
            environment=environment.name,
            service_id=service.service_id,
        )
        usage = BuildUsage(
            build_id=f"{build.build_id}/attempt-{build.attempts}",
            tenant=tenant,
            started_at=started_at,
            finished_at=max(finished_at, started_at),
        )
        self._ledger.record_build(usage)
