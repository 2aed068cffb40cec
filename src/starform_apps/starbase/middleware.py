"""ASGI middleware: one JSON log line and the metrics per request (route template, not path)."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starform_apps.starbase.logs import request_logger
from starform_apps.starbase.metrics import Metrics

__all__ = ["RequestMetricsMiddleware"]


class RequestMetricsMiddleware:
    """Counts and times requests by method, route template and status; logs one line each.

    Logs carry no headers, query strings or bodies, so no token or secret can reach them.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = request_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope.get("method", "")
            self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=template).observe(elapsed)
            self.log.info(
                "request",
                method=method,
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves: a client that has the answer sees the line
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if not recorded:
                record()
