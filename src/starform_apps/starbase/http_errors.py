"""Map core errors to HTTP answers: 404, 409, 422 naming the field, 401/403 for auth.

Bodies are ``{"detail": "..."}`` or, for 422, ``{"detail": [{"loc", "field", "msg", "type"}]}``.
Submitted values are never echoed back (they may be secret).
"""

from __future__ import annotations

import re
import traceback
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from starform_core.errors import (
    StarformError,
    StoreConflictError,
    StoreError,
    StoreNotFoundError,
    ValidationError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "HttpError",
    "install_error_handlers",
    "public_reason",
    "validation_body",
]


class FieldError(BaseModel):
    """One invalid field."""

    loc: list[str | int]
    field: str
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer."""

    detail: str | list[FieldError]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body could not be parsed"},
    401: {"model": ErrorBody, "description": "Missing or unknown bearer token"},
    403: {"model": ErrorBody, "description": "The token's roles do not allow this"},
    404: {"model": ErrorBody, "description": "Unknown (or invisible) resource"},
    409: {"model": ErrorBody, "description": "Conflicts with stored state"},
    413: {"model": ErrorBody, "description": "The body is larger than the endpoint's limit"},
    422: {"model": ErrorBody, "description": "Invalid input: names the field and the reason"},
    429: {"model": ErrorBody, "description": "Rate limit exceeded (see Retry-After)"},
}
"""The error answers every route documents in the OpenAPI description."""


class HttpError(StarformError):
    """An error with an HTTP status, raised by the auth layer and the routes."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


_QUOTED_VALUE = re.compile(r"""^(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s+""")
_PYDANTIC_PREFIX = re.compile(r"^(Value error|Assertion failed), ")
_log = structlog.get_logger("starbase.errors")


def public_reason(reason: str) -> str:
    """A reason safe to answer: a leading quoted value (``'x' is not ...``) becomes "the value"."""
    return _QUOTED_VALUE.sub("the value ", _PYDANTIC_PREFIX.sub("", reason), count=1)


def _field_name(loc: list[str | int]) -> str:
    name = ""
    for part in loc[1:] if len(loc) > 1 and loc[0] in ("body", "query", "path") else loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or str(loc[-1])


def validation_body(loc: list[str | int], msg: str, kind: str = "value_error") -> dict[str, Any]:
    """The 422 body for one field (``field`` as ``egress_allow[0]`` or ``autoscaling.max_replicas``)."""
    return {"detail": [{"loc": loc, "field": _field_name(loc), "msg": public_reason(msg), "type": kind}]}


def _headers(exc: HttpError) -> dict[str, str] | None:
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers or None


def _frames(exc: BaseException) -> list[str]:
    """Where an unexpected error came from: file, line and function only (no message, no locals)."""
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)][-12:]


def install_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""

    @app.exception_handler(HttpError)
    async def _http(_request: Request, exc: HttpError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
            body = validation_body(loc, str(err.get("msg", "invalid")), str(err.get("type", "")))
            errors.extend(body["detail"])
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(ValidationError)
    async def _domain(_request: Request, exc: ValidationError) -> JSONResponse:
        loc: list[str | int] = ["body", *exc.field.split(".")]
        return JSONResponse(validation_body(loc, exc.reason), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        route: Any = request.scope.get("route")
        _log.error(
            "unexpected error",
            error=type(exc).__name__,
            route=getattr(route, "path", "<unmatched>"),
            method=request.method,
            frames=_frames(exc),
        )
        return JSONResponse({"detail": "internal error (logged)"}, status_code=500)

    @app.exception_handler(StoreNotFoundError)
    async def _not_found(_request: Request, exc: StoreNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StoreConflictError)
    async def _conflict(_request: Request, exc: StoreConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StoreError)
    async def _store(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": f"store unavailable: {exc}"}, status_code=503)
