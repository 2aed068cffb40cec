"""Starbase in-process for tests: real PostgreSQL, real socket, helpers for tokens.

::

    with running_starbase() as sb:               # embedded PG (or DATABASE_URL), fresh database
        admin = sb.user_token("ops@example.com", operator=True)
        httpx.post(f"{sb.base_url}/v1/clusters", headers=sb.auth(admin), json={...})

Pass ``server_url`` to share one PostgreSQL server across many Starbases (a fresh database each).
Rate quotas are effectively off (a million a minute) unless ``rate_limits`` names some; ``/metrics``
answers ``sb.metrics_token``.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import attrs
import httpx
import structlog

from starform_adapters.postgres import VarCipher
from starform_apps.starbase.billing import BillingConfig
from starform_apps.starbase.billing.service import Clock, utc_now
from starform_apps.starbase.deploy import BuildJobs
from starform_apps.starbase.event_stream import StreamLimits
from starform_apps.starbase.logs import configure_logging
from starform_apps.starbase.quotas import Quota
from starform_apps.starbase.server import ServerThread, Starbase, open_starbase
from starform_apps.starbase.tokens import mint_user_token
from starform_core.access import Actor
from starform_core.ports.ratelimit import RateLimit, RateLimiter
from starform_core.ports.registry import ImageRegistry
from starform_testkit.postgres import fresh_database, postgres_server

__all__ = ["UNLIMITED", "RunningStarbase", "running_starbase"]


@attrs.frozen
class RunningStarbase:
    """A Starbase serving on ``base_url`` with direct access to its store and metrics."""

    base_url: str
    starbase: Starbase
    metrics_token: str
    server: ServerThread

    def user_token(self, email: str, *, operator: bool = False) -> str:
        """An API token for the user with ``email`` (created if new)."""
        store = self.starbase.store
        return mint_user_token(store, store, email, operator=operator, name="test", actor=Actor(label="test"))

    def register_cluster(
        self, *, name: str | None = None, region: str = "fra1", **settings: object
    ) -> tuple[str, str]:
        """Register a cluster over HTTP as an operator; returns ``(cluster_id, agent_token)``.

        ``settings`` are extra ``POST /v1/clusters`` fields (``lb_size_unit``, ...).
        """
        operator = self.user_token("operator@starbase.test", operator=True)
        body = {
            "name": name or f"c-{uuid.uuid4().hex[:10]}",
            "region": region,
            "gateway_namespace": "envoy-gateway-system",
            "gateway_name": "starform-gateway",
            **settings,
        }
        response = httpx.post(
            f"{self.base_url}/v1/clusters", json=body, headers=self.auth(operator), timeout=30
        )
        response.raise_for_status()
        data = response.json()
        return str(data["cluster"]["id"]), str(data["agent_token"])

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        """The ``Authorization`` header for a token."""
        return {"Authorization": f"Bearer {token}"}


UNLIMITED = {quota: RateLimit(1_000_000, 60) for quota in Quota}
"""Quotas no test reaches by accident."""


@contextmanager
def running_starbase(
    *,
    server_url: str | None = None,
    encryption_key: str | None = None,
    rate_limiter: RateLimiter | None = None,
    rate_limits: dict[Quota, RateLimit] | None = None,
    registry: ImageRegistry | None = None,
    build_jobs: BuildJobs | None = None,
    stream_limits: StreamLimits | None = None,
    billing: BillingConfig | None = None,
    clock: Clock = utc_now,
) -> Iterator[RunningStarbase]:
    """Start Starbase on 127.0.0.1 (free port) over a fresh database; stop it on exit.

    ``registry`` and ``build_jobs`` are push to deploy's (see :func:`open_starbase`).
    ``stream_limits`` bound its live event streams (defaults: :class:`StreamLimits`).

    Request logs go to stdout at ``warning`` unless structlog was configured already.
    ``billing`` and ``clock`` configure billing (payment provider, audit trail, its clock).
    """
    if not structlog.is_configured():
        configure_logging("warning")
    key = encryption_key or base64.b64encode(os.urandom(32)).decode()
    with ExitStack() as stack:
        server = server_url or stack.enter_context(postgres_server())
        url = stack.enter_context(fresh_database(server, prefix="starbase"))
        metrics_token = secrets.token_urlsafe(16)
        starbase = stack.enter_context(
            open_starbase(
                url,
                VarCipher.from_base64(key),
                pool_max_size=8,
                rate_limiter=rate_limiter,
                rate_limits={**UNLIMITED, **(rate_limits or {})},
                metrics_token=metrics_token,
                registry=registry,
                build_jobs=build_jobs,
                stream_limits=stream_limits,
                billing=billing,
                clock=clock,
            )
        )
        thread = ServerThread(starbase.app, on_stop=starbase.streams.close)
        base_url = thread.start()
        stack.callback(thread.stop)
        yield RunningStarbase(
            base_url=base_url, starbase=starbase, metrics_token=metrics_token, server=thread
        )
