"""The build double over HTTP: a :class:`~starform_adapters.build.SimulatedBuildService` served
with the build service's API (see :mod:`starform_adapters.build.http`) on a free loopback port,
so workers in other processes follow the same builds (and a killed worker's build survives it).

::

    with BuildServer(SimulatedBuildService(writer, clock=now)) as server:
        client = HttpBuildService(server.url, server.token)
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from starform_adapters.build import HttpBuildService, SimulatedBuildService, decode, encode
from starform_apps.starbase.server import ServerThread
from starform_core.build import BuildRequest
from starform_core.errors import (
    BuildConflictError,
    BuildNotFoundError,
    BuildUnavailableError,
    ValidationError,
)
from starform_core.secrets_values import SecretValue

__all__ = ["BuildServer", "OverHttp", "build_service_app"]


def build_service_app(service: SimulatedBuildService, token: SecretValue) -> FastAPI:
    """The HTTP API in front of ``service``, answering only ``token``."""
    app = FastAPI(title="Simulated build service")
    expected = f"Bearer {token.reveal()}".encode()

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Any:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)
        return await call_next(request)

    @app.exception_handler(BuildNotFoundError)
    async def _missing(_request: Request, exc: BuildNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(BuildConflictError)
    async def _conflict(_request: Request, exc: BuildConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(BuildUnavailableError)
    async def _unavailable(_request: Request, exc: BuildUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(ValidationError)
    async def _invalid(_request: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.post("/v1/builds")
    def start(document: dict[str, Any]) -> dict[str, Any]:
        return encode(service.start(decode(document, BuildRequest)))

    @app.get("/v1/builds/{build_id}")
    def status(build_id: str) -> dict[str, Any]:
        return encode(service.status(build_id))

    @app.get("/v1/builds/{build_id}/logs")
    def logs(
        build_id: str, after: int = Query(default=0, ge=0), limit: int = Query(default=500)
    ) -> dict[str, Any]:
        return encode(service.logs(build_id, after=after, limit=limit))

    @app.post("/v1/builds/{build_id}/cancel")
    def cancel(build_id: str) -> dict[str, Any]:
        return encode(service.cancel(build_id))

    return app


class BuildServer:
    """The double served on 127.0.0.1 (a free port) in a thread; a context manager."""

    def __init__(self, service: SimulatedBuildService) -> None:
        self.service = service
        self.token = SecretValue(secrets.token_urlsafe(24))
        self._thread = ServerThread(build_service_app(service, self.token))
        self.url = ""

    def __enter__(self) -> BuildServer:
        self.url = self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.stop()


class OverHttp:
    """The build port through :class:`HttpBuildService` to a served double; the double's own
    controls (``script_commit``, ``fail_next``, ``builds``) reach it directly."""

    def __init__(self, double: SimulatedBuildService, client: HttpBuildService) -> None:
        self._double = double
        self.start = client.start
        self.status = client.status
        self.logs = client.logs
        self.cancel = client.cancel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._double, name)
