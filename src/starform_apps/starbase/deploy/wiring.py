"""Push to deploy's adapters from its configuration: the registry client (Distribution API),
the build service client (HTTP) and a worker's build context on Starbase's store."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from starform_adapters.build import HttpBuildService
from starform_adapters.postgres import PostgresStore
from starform_adapters.registry import DistributionRegistry, RegistrySession
from starform_apps.starbase.deploy.config import DeployConfig
from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.deploy.runner import BuildMinutes
from starform_apps.starbase.deploy.tasks import BuildWorker, ProcrastinateBuildJobs
from starform_core.errors import StarformError

__all__ = ["open_build_worker", "open_registry"]


def open_registry(config: DeployConfig) -> DistributionRegistry | None:
    """The registry port for ``STARBASE_REGISTRY_URL`` (``None`` when it is not set)."""
    host = config.registry_host
    if config.registry_url is None or host is None:
        return None
    credentials = {host: config.registry_credentials} if config.registry_credentials else {}
    return DistributionRegistry(
        RegistrySession(endpoints={host: config.registry_url}, credentials=credentials)
    )


def open_build_worker(
    store: PostgresStore,
    config: DeployConfig,
    jobs: ProcrastinateBuildJobs,
    *,
    registry: CollectorRegistry | None = None,
    minutes: BuildMinutes | None = None,
) -> BuildWorker | None:
    """The ``builds`` context of a worker (``None`` when builds are not configured)."""
    if not config.builds_enabled:
        return None
    reader = open_registry(config)
    if reader is None or config.build_service_url is None or config.build_service_token is None:
        raise StarformError("builds need STARBASE_REGISTRY_URL and the build service's URL and token")
    return BuildWorker(
        builds=store,
        git=store,
        service=HttpBuildService(config.build_service_url, config.build_service_token),
        registry=reader,
        config=config.runner_config(),
        jobs=jobs,
        minutes=minutes,
        metrics=DeployMetrics(registry or CollectorRegistry()),
    )
