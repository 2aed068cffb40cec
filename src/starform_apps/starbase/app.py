"""The ASGI app factory: the composition root that wires the ports, cache, metrics and routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase import (
    routes_agents,
    routes_clusters,
    routes_health,
    routes_projects,
    routes_services,
    routes_tokens,
    routes_vargroups,
    routes_workspaces,
)
from starform_apps.starbase.body_guard import BodyGuardMiddleware
from starform_apps.starbase.http_errors import install_error_handlers
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.middleware import RequestMetricsMiddleware
from starform_apps.starbase.payload_cache import DEFAULT_MAX_BYTES, PayloadCache
from starform_apps.starbase.ratelimit import RateLimits
from starform_core.ports.ratelimit import RateLimiter
from starform_core.ports.store import Store
from starform_core.ports.tokens import ApiTokenStore

__all__ = ["create_app"]


def create_app(
    store: Store,
    *,
    tokens: ApiTokenStore,
    checksum_key: Callable[[str], bytes],
    rate_limiter: RateLimiter | None = None,
    rate_limits: RateLimits | None = None,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
    payload_cache_bytes: int = DEFAULT_MAX_BYTES,
) -> FastAPI:
    """Build Starbase's ASGI app on its ports; nothing connects here.

    ``checksum_key(cluster_id)`` gives the var-group checksum key of a cluster (derived from the
    encryption key by the PostgreSQL adapter's cipher). ``rate_limiter`` defaults to in-process
    counters (one Starbase process). ``metrics_token``: ``/metrics`` on this
    app answers only that bearer token (``None``: ``/metrics`` is not served here; see
    :func:`~starform_apps.starbase.metrics_app.create_metrics_app` for a separate listener).
    """
    metrics = metrics or Metrics()
    app = FastAPI(
        title="Starbase",
        version="1",
        summary="Starform's control plane: desired state per cluster, agent reports, people API.",
    )
    app.state.store = store
    app.state.tokens = tokens
    app.state.metrics = metrics
    app.state.metrics_token = metrics_token
    app.state.rate_limits = rate_limits or RateLimits(
        limiter=rate_limiter or LimitsRateLimiter("memory://"), metrics=metrics
    )
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
        routes_tokens,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyGuardMiddleware, metrics=metrics)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
