"""The ASGI app factory: wires the ports it is given, the payload cache, metrics and the routes.

Nothing here connects to anything: :func:`create_app` takes its ports as arguments (the
PostgreSQL composition is :func:`~starform_apps.starbase.server.open_starbase`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from starform_adapters.ratelimit import LimitsRateLimiter
from starform_apps.starbase import (
    routes_adoptions,
    routes_agents,
    routes_billing,
    routes_clusters,
    routes_health,
    routes_observed,
    routes_projects,
    routes_reconcile,
    routes_releases,
    routes_services,
    routes_templates,
    routes_tokens,
    routes_usage,
    routes_vargroups,
    routes_workspaces,
)
from starform_apps.starbase.agent_views import AgentViews
from starform_apps.starbase.billing.service import BillingRuntime, billing_runtime
from starform_apps.starbase.body_guard import BodyGuardMiddleware
from starform_apps.starbase.change_hub import ChangeHub, follow_changes
from starform_apps.starbase.dashboard import DashboardApiBridge, install_dashboard
from starform_apps.starbase.deploy import routes_builds, routes_webhooks
from starform_apps.starbase.deploy.errors import install_deploy_error_handlers
from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.deploy.ports import DeployPorts
from starform_apps.starbase.event_stream import EventStreams, StreamLimits
from starform_apps.starbase.http_errors import install_error_handlers
from starform_apps.starbase.local_writes import LocalWritesMiddleware
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.middleware import RequestMetricsMiddleware
from starform_apps.starbase.payload_cache import DEFAULT_MAX_BYTES, PayloadCache
from starform_apps.starbase.ports import StarbasePorts
from starform_apps.starbase.ratelimit import RateLimits
from starform_apps.starbase.single_flight import SingleFlight
from starform_apps.starbase.wakeups import Wakeups
from starform_core.ports.notifications import ClusterChanges
from starform_core.ports.ratelimit import RateLimiter

__all__ = ["DOCS_ASSETS_PATH", "ROUTERS", "create_app"]

DOCS_ASSETS_PATH = "/docs/assets"
"""Where Swagger UI's script, stylesheet and icon are served from (packaged by ``fastapi-offline``),
so ``/docs`` works without internet access. ReDoc is off: its bundle fetches a logo from its CDN.
Swagger UI's validator badge is off too: it would send the OpenAPI document's URL to
validator.swagger.io."""

ROUTERS = (
    routes_health,
    routes_agents,
    routes_clusters,
    routes_workspaces,
    routes_projects,
    routes_services,
    routes_releases,
    routes_reconcile,
    routes_observed,
    routes_vargroups,
    routes_tokens,
    routes_templates,
    routes_webhooks,
    routes_builds,
    routes_usage,
    routes_billing,
    routes_adoptions,
)
"""Every route module of the API, in the order their routers are included."""


def create_app(
    ports: StarbasePorts,
    *,
    checksum_key: Callable[[str], bytes],
    rate_limiter: RateLimiter | None = None,
    rate_limits: RateLimits | None = None,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
    payload_cache_bytes: int = DEFAULT_MAX_BYTES,
    deploy: DeployPorts | None = None,
    stream_limits: StreamLimits | None = None,
    billing: BillingRuntime | None = None,
    changes: ClusterChanges | None = None,
    observed_stale_after: float = 600.0,
) -> FastAPI:
    """Build Starbase's ASGI app on its ports; nothing connects here.

    Each route receives only the role ports it declares (see :mod:`~starform_apps.starbase.ports`).
    ``checksum_key(cluster_id)`` gives the var-group checksum key of a cluster (derived from the
    encryption key by the PostgreSQL adapter's cipher). ``rate_limiter`` defaults to in-process
    counters (one Starbase process). ``metrics_token``: ``/metrics`` on this
    app answers only that bearer token (``None``: ``/metrics`` is not served here; see
    :func:`~starform_apps.starbase.metrics_app.create_metrics_app` for a separate listener).
    ``deploy``: push to deploy's ports (``None``: its routes answer 404 and hand deploys need a
    digest-pinned image).
    ``stream_limits`` bound the live event streams; ``app.state.event_streams.close()`` ends
    them (the server calls it when it stops).
    ``billing`` is what billing's routes share besides their ports (price book, clock, metrics);
    by default one on this app's metrics registry with the wall clock.
    ``changes``: the cluster change feed the app follows while it runs (its lifespan), which
    wakes held long-polls and lets the agent views be trusted; ``None``: every agent request
    reads the store and held polls re-check every second.
    ``observed_stale_after``: seconds after which an object no report listed is stale.
    """
    metrics = metrics or Metrics()
    views = AgentViews(ports.agents)
    wakeups = Wakeups()
    app = _new_app(lifespan=_following_changes(changes, ChangeHub(views, wakeups, metrics), wakeups))
    _wire_agent_serving(
        app, views, wakeups, PayloadCache(ports.agents, checksum_key, metrics, max_bytes=payload_cache_bytes)
    )
    _wire_settings(
        app, ports, metrics, metrics_token=metrics_token, observed_stale_after=observed_stale_after
    )
    _wire_limits(
        app, metrics, rate_limiter=rate_limiter, rate_limits=rate_limits, stream_limits=stream_limits
    )
    app.state.billing = billing or billing_runtime(metrics.registry)
    _wire_deploy(app, deploy, metrics)
    install_error_handlers(app)
    install_deploy_error_handlers(app)
    _include_routes(app)
    _add_middleware(app, views, metrics)
    return app


_Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
"""An ASGI app's lifespan: what runs while the app serves."""


def _following_changes(changes: ClusterChanges | None, hub: ChangeHub, wakeups: Wakeups) -> _Lifespan:
    """The lifespan that follows ``changes`` into ``hub`` (and ``wakeups``) while the app runs."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with follow_changes(changes, hub, wakeups):
            yield

    return lifespan


def _new_app(*, lifespan: _Lifespan) -> FastAPI:
    """The bare app: its OpenAPI title, ``lifespan`` and the offline docs (see :data:`DOCS_ASSETS_PATH`)."""
    return FastAPIOffline(
        title="Starbase",
        version="1",
        summary="Starform's control plane: desired state per cluster, agent reports, people API.",
        lifespan=lifespan,
        static_url=DOCS_ASSETS_PATH,
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},
    )


def _wire_agent_serving(app: FastAPI, views: AgentViews, wakeups: Wakeups, cache: PayloadCache) -> None:
    """What answers agents fast: the agent views, held-poll wakeups, payload builds and cache."""
    app.state.agent_views = views
    app.state.wakeups = wakeups
    app.state.payload_builds = SingleFlight()
    app.state.payload_cache = cache


def _wire_settings(
    app: FastAPI,
    ports: StarbasePorts,
    metrics: Metrics,
    *,
    metrics_token: str | None,
    observed_stale_after: float,
) -> None:
    """The role ports, the metrics (and the token ``/metrics`` answers) and the stale-after window."""
    app.state.ports = ports
    app.state.metrics = metrics
    app.state.metrics_token = metrics_token
    app.state.observed_stale_after = observed_stale_after


def _wire_limits(
    app: FastAPI,
    metrics: Metrics,
    *,
    rate_limiter: RateLimiter | None,
    rate_limits: RateLimits | None,
    stream_limits: StreamLimits | None,
) -> None:
    """The request quotas (in-process counters by default) and the bounded live event streams."""
    app.state.rate_limits = rate_limits or RateLimits(
        limiter=rate_limiter or LimitsRateLimiter("memory://"), metrics=metrics
    )
    app.state.event_streams = EventStreams(metrics, limits=stream_limits)


def _wire_deploy(app: FastAPI, deploy: DeployPorts | None, metrics: Metrics) -> None:
    """Push to deploy's ports (``None``: off) and its metrics on the app's registry."""
    app.state.deploy_ports = deploy
    app.state.deploy_metrics = DeployMetrics(metrics.registry)


def _include_routes(app: FastAPI) -> None:
    """Every API router (:data:`ROUTERS`, in order), then the dashboard's pages and static files."""
    for module in ROUTERS:
        app.include_router(module.router)
    install_dashboard(app)


def _add_middleware(app: FastAPI, views: AgentViews, metrics: Metrics) -> None:
    """The middleware stack, innermost first: local writes, body guard, request metrics, dashboard bridge."""
    app.add_middleware(LocalWritesMiddleware, views=views)
    app.add_middleware(BodyGuardMiddleware, metrics=metrics)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_middleware(DashboardApiBridge, metrics=metrics)
