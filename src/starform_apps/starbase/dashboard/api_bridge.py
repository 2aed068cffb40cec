"""The dashboard's way into the API: ``/ui/api/v1/...`` is ``/v1/...`` with the session's token.

The page's scripts cannot read the session cookie (it is HttpOnly), so they call the API through
this ASGI middleware: it takes the API token from the cookie, puts it in an ``Authorization``
header, drops the cookie and hands the request to the very same ``/v1`` route. Roles, rate
quotas, validation, audit entries and error answers are therefore exactly the API's.

Only the calls the dashboard makes pass (:data:`ALLOWED`, anything else is ``404``), and a call
that changes something (any method but GET) needs the session's CSRF token in
``X-CSRF-Token`` and, when the browser sends one, the dashboard's own ``Origin`` (``403``
otherwise).
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from starform_apps.starbase.dashboard.session import CSRF_HEADER, cookie_token, csrf_matches, same_origin
from starform_apps.starbase.metrics import Metrics

__all__ = ["ALLOWED", "PREFIX", "DashboardApiBridge"]

PREFIX = "/ui/api"
"""Dashboard API calls start here; the rest of the path is the ``/v1`` path."""

_ID = r"[0-9a-fA-F-]{1,64}"
ALLOWED: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "GET",
        re.compile(
            rf"/v1/services/{_ID}"
            r"(?:/(?:status|events|events/stream|deployments|adoptions|objects|reconcile-requests))?"
        ),
    ),
    ("POST", re.compile(rf"/v1/services/{_ID}/(?:rollback|reconcile)")),
    ("POST", re.compile(rf"/v1/adoptions/{_ID}/(?:approve|reject)")),
)
"""The (method, ``/v1`` path) pairs the dashboard calls."""

_log = structlog.get_logger("starbase.dashboard")
_WARN = frozenset({"origin", "csrf"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _allowed(method: str, path: str) -> bool:
    return any(method == m and pattern.fullmatch(path) for m, pattern in ALLOWED)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class DashboardApiBridge:
    """Rewrites allowed ``/ui/api/v1`` calls into ``/v1`` calls authenticated by the session."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        refusal = _refusal(scope, path[len(PREFIX) :])
        if refusal is not None:
            reason, status, detail = refusal
            self.metrics.dashboard_refused.labels(reason=reason).inc()
            if reason in _WARN:  # a page of another site, or a forged request: worth a look
                _log.warning("dashboard call refused", reason=reason, method=scope.get("method"))
            await _answer(send, status, detail)
            return
        await self.app(_rewritten(scope, path[len(PREFIX) :]), receive, send)


def _refusal(scope: Scope, inner: str) -> tuple[str, int, str] | None:
    """``(reason, status, detail)`` when the call may not pass, else ``None``."""
    method = str(scope.get("method", "GET"))
    if not _allowed("GET" if method == "HEAD" else method, inner):
        return "not_allowed", 404, "not an API call the dashboard makes"
    token = cookie_token(_header(scope, b"cookie"))
    if token is None:
        return "no_session", 401, "sign in to the dashboard first"
    if method in ("GET", "HEAD"):
        return None
    origin = _header(scope, b"origin")
    if not same_origin(origin, scheme=str(scope.get("scheme", "http")), host=_header(scope, b"host")):
        return "origin", 403, "the request did not come from the dashboard (Origin)"
    if not csrf_matches(token, _header(scope, CSRF_HEADER.encode())):
        return "csrf", 403, "missing or wrong CSRF token: reload the page"
    return None


def _rewritten(scope: Scope, inner: str) -> dict[str, Any]:
    token = cookie_token(_header(scope, b"cookie"))
    headers = [
        (key, value)
        for key, value in scope.get("headers", ())
        if key not in (b"cookie", b"authorization", CSRF_HEADER.encode())
    ]
    headers.append((b"authorization", f"Bearer {token}".encode()))
    return {**scope, "path": inner, "raw_path": inner.encode(), "headers": headers}
