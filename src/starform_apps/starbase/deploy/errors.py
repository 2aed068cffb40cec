"""HTTP answers for push to deploy's errors: a bad webhook signature is ``401``, a refused
delivery ``403``, a build state change §16.12 forbids ``409``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from starform_core.errors import BuildTransitionError, WebhookRefusedError, WebhookSignatureError

__all__ = ["install_deploy_error_handlers"]


def install_deploy_error_handlers(app: FastAPI) -> None:
    """Register the translations on ``app``."""

    @app.exception_handler(WebhookSignatureError)
    async def _signature(_request: Request, exc: WebhookSignatureError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=401)

    @app.exception_handler(WebhookRefusedError)
    async def _refused(_request: Request, exc: WebhookRefusedError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(BuildTransitionError)
    async def _transition(_request: Request, exc: BuildTransitionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)
