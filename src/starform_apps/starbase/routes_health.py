"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST

from starform_apps.starbase.auth import bearer
from starform_apps.starbase.http_errors import ErrorBody, HttpError
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.ports import ReadinessDep
from starform_apps.starbase.tokens import secrets_equal
from starform_core.errors import StoreError

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is unreachable"}})
def readyz(readiness: ReadinessDep) -> JSONResponse:
    """The database answers."""
    try:
        readiness.ping()
    except StoreError:
        return JSONResponse({"status": "database unreachable"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"model": ErrorBody, "description": "Missing or wrong metrics token"},
        404: {"model": ErrorBody, "description": "Metrics are not served on this listener"},
    },
)
def metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Prometheus metrics, for the bearer ``STARBASE_METRICS_TOKEN`` only (404 when it is unset)."""
    expected: str | None = request.app.state.metrics_token
    if not expected:
        raise HttpError(404, "metrics are served on the metrics listener, not here")
    if credentials is None or not secrets_equal(credentials.credentials, expected):
        raise HttpError(401, "missing or wrong metrics token")
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
