"""The ASGI app factory: the composition root that wires the store, cache, metrics and routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from starform_apps.starbase import (
    routes_agents,
    routes_billing,
    routes_clusters,
    routes_health,
    routes_projects,
    routes_services,
    routes_usage,
    routes_vargroups,
    routes_workspaces,
)
from starform_apps.starbase.billing import Billing
from starform_apps.starbase.http_errors import install_error_handlers
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.middleware import RequestMetricsMiddleware
from starform_apps.starbase.payload_cache import DEFAULT_MAX_BYTES, PayloadCache
from starform_core.ports.store import Store

__all__ = ["create_app"]


def create_app(
    store: Store,
    *,
    checksum_key: Callable[[str], bytes],
    metrics: Metrics | None = None,
    payload_cache_bytes: int = DEFAULT_MAX_BYTES,
    billing: Billing | None = None,
) -> FastAPI:
    """Build Starbase's ASGI app on a store; nothing connects here.

    ``checksum_key(cluster_id)`` gives the var-group checksum key of a cluster (derived from the
    encryption key by the PostgreSQL adapter's cipher). Without ``billing`` the billing routes
    answer 503.
    """
    metrics = metrics or Metrics()
    app = FastAPI(
        title="Starbase",
        version="1",
        summary="Starform's control plane: desired state per cluster, agent reports, people API.",
    )
    app.state.store = store
    app.state.metrics = metrics
    app.state.billing = billing
    app.state.payload_cache = PayloadCache(store, checksum_key, metrics, max_bytes=payload_cache_bytes)
    install_error_handlers(app)
    for module in (
        routes_health,
        routes_agents,
        routes_clusters,
        routes_workspaces,
        routes_projects,
        routes_services,
        routes_vargroups,
        routes_usage,
        routes_billing,
    ):
        app.include_router(module.router)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
