"""The separate metrics listener: ``GET /metrics`` only, for a private address Prometheus scrapes.

The API port does not serve ``/metrics`` unless ``STARBASE_METRICS_TOKEN`` is set (then only to
that bearer token): metrics name every cluster id and generation.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["create_metrics_app"]


def create_metrics_app(render: Callable[[], bytes]) -> Starlette:
    """An ASGI app serving what ``render`` returns (the text exposition format: ``Metrics.render``,
    or the workers' together under ``serve --workers``) at ``/metrics`` (404 elsewhere)."""

    async def serve(_request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", serve, methods=["GET"])])
