"""The build port over HTTP: the client Starbase's workers use to talk to the build service.

The service's API (what the test kit's double serves, and what a build service adapter in front
of Depot/Railpack speaks): ``POST /v1/builds`` (a :class:`BuildRequest`; ``200`` with the
status, the same build again for the same request, ``409`` for another one under its id),
``GET /v1/builds/{id}``, ``GET /v1/builds/{id}/logs?after=&limit=``, ``POST
/v1/builds/{id}/cancel``; bearer-token authentication; errors as ``{"detail": ...}``.

Answers are translated: ``404`` → :class:`BuildNotFoundError`, ``409`` →
:class:`BuildConflictError`, ``422`` → :class:`ValidationError`, ``5xx``, timeouts and connection failures →
:class:`BuildUnavailableError` (the runner retries those later); anything else unexpected is
also :class:`BuildUnavailableError` naming the status (the token is never in a message).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from starform_adapters.build.wire import decode, encode
from starform_core.build import BuildRequest, BuildStatus, LogPage
from starform_core.errors import (
    BuildConflictError,
    BuildNotFoundError,
    BuildUnavailableError,
    ValidationError,
)
from starform_core.ports.build import BuildService
from starform_core.secrets_values import SecretValue

__all__ = ["HttpBuildService"]

_DETAIL_MAX = 300


class HttpBuildService:
    """Implements :class:`~starform_core.ports.build.BuildService` against ``base_url``."""

    def __init__(
        self,
        base_url: str,
        token: SecretValue,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token.reveal()}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BuildUnavailableError(f"the build service did not answer: {type(exc).__name__}") from exc
        if answer.status_code == 200:
            try:
                return answer.json()
            except ValueError as exc:
                raise BuildUnavailableError("the build service answered something that is not JSON") from exc
        detail = _detail(answer)
        if answer.status_code == 404:
            raise BuildNotFoundError(detail)
        if answer.status_code == 409:
            raise BuildConflictError(detail)
        if answer.status_code == 422:
            raise ValidationError("request", f"the build service refused it: {detail}")
        raise BuildUnavailableError(f"the build service answered {answer.status_code}: {detail}")

    def _status(self, document: Any) -> BuildStatus:
        try:
            return decode(document, BuildStatus)
        except ValidationError as exc:
            raise BuildUnavailableError(f"the build service's status is malformed: {exc}") from exc

    def start(self, request: BuildRequest) -> BuildStatus:
        """Queue the build (idempotent by ``request.build_id``)."""
        return self._status(self._call("POST", "/v1/builds", json=encode(request)))

    def status(self, build_id: str) -> BuildStatus:
        """The build's current status."""
        return self._status(self._call("GET", f"/v1/builds/{_safe(build_id)}"))

    def logs(self, build_id: str, *, after: int = 0, limit: int = 500) -> LogPage:
        """Up to ``limit`` (1 to 5000) log lines after ``after``."""
        if not 1 <= limit <= 5000:
            raise ValidationError("limit", "must be between 1 and 5000")
        document = self._call(
            "GET", f"/v1/builds/{_safe(build_id)}/logs", params={"after": after, "limit": limit}
        )
        try:
            return decode(document, LogPage)
        except ValidationError as exc:
            raise BuildUnavailableError(f"the build service's log page is malformed: {exc}") from exc

    def cancel(self, build_id: str) -> BuildStatus:
        """Stop the build if it is still running."""
        return self._status(self._call("POST", f"/v1/builds/{_safe(build_id)}/cancel"))


def _safe(build_id: str) -> str:
    if not build_id or len(build_id) > 64 or not all(c.isalnum() or c == "-" for c in build_id):
        raise BuildNotFoundError("no such build (malformed id)")
    return build_id


def _detail(answer: httpx.Response) -> str:
    try:
        detail = answer.json().get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    return str(detail)[:_DETAIL_MAX] or answer.reason_phrase


if TYPE_CHECKING:
    _port: BuildService = HttpBuildService("http://build.invalid", SecretValue("t"))
