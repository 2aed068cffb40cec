"""The dashboard's pages: sign in, projects, a project's services, a service (Jinja2, escaped).

Pages are rendered on the server from the API's role ports with the API's authorisation
(:mod:`~starform_apps.starbase.dashboard.views`); buttons and the live parts call the API
itself through :mod:`~starform_apps.starbase.dashboard.api_bridge`. Every page answers with a
strict Content-Security-Policy (scripts and styles from Starbase only, no inline script), is
never cached, and cannot be framed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote
from uuid import UUID

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from starform_apps.starbase.auth import Caller, current_user
from starform_apps.starbase.dashboard import views
from starform_apps.starbase.dashboard.session import (
    CSRF_FIELD,
    clear_session,
    cookie_token,
    csrf_matches,
    csrf_token,
    same_origin,
    set_session,
)
from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.ports import StarbasePorts, TokensDep, ports_of
from starform_core.errors import StoreNotFoundError
from starform_core.ports import ApiTokenStore

__all__ = ["SECURITY_HEADERS", "router", "templates"]

router = APIRouter(prefix="/ui", include_in_schema=False)

_HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
)
"""The page templates; every value is HTML-escaped."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
        " form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every page."""

_NEXT = re.compile(r"/ui(?:/[A-Za-z0-9_/-]{0,200})?")
_MAX_TOKEN_CHARS = 512


class _SignInNeededError(Exception):
    """No session, or its token is no longer valid."""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _session(request: Request, tokens: ApiTokenStore) -> tuple[Caller, str]:
    token = cookie_token(request.headers.get("cookie"))
    if token is None:
        raise _SignInNeededError
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    try:
        return current_user(request, credentials, tokens), token
    except HttpError as exc:
        if exc.status == 401:
            raise _SignInNeededError from exc
        raise


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path if _NEXT.fullmatch(request.url.path) else "/ui/"
    return RedirectResponse(f"/ui/login?next={quote(target, safe='/')}", status_code=303)


def _page(
    request: Request,
    tokens: ApiTokenStore,
    build: Callable[[StarbasePorts, Caller], tuple[str, dict[str, Any]]],
) -> Response:
    """Authenticate the session, build a page, answer errors as pages (never a traceback)."""
    try:
        caller, token = _session(request, tokens)
        name, context = build(ports_of(request), caller)
    except _SignInNeededError:
        return _sign_in_redirect(request)
    except HttpError as exc:
        return _error(request, exc.status, exc.detail, headers=exc.headers)
    except StoreNotFoundError as exc:
        return _error(request, 404, str(exc))
    context = {"caller": caller, "csrf": csrf_token(token), **context}
    return _render(request, name, context)


def _error(request: Request, status: int, detail: str, *, headers: dict[str, str] | None = None) -> Response:
    response = _render(request, "error.html", {"status": status, "detail": detail}, status=status)
    response.headers.update(headers or {})
    return response


@router.get("/login")
def login_page(
    request: Request, target: Annotated[str, Query(alias="next", max_length=300)] = "/ui/"
) -> Response:
    """The sign-in form: an API token, entered once."""
    return _render(
        request, "login.html", {"next": target if _NEXT.fullmatch(target) else "/ui/", "error": None}
    )


@router.post("/login")
async def sign_in(request: Request, tokens: TokensDep) -> Response:
    """Check the token like the API does; keep it in the session cookie; go to ``next``."""
    if not same_origin(
        request.headers.get("origin"), scheme=request.url.scheme, host=request.headers.get("host")
    ):
        return _error(request, 403, "the sign-in did not come from this dashboard (Origin)")
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    token = (form.get("token") or [""])[0].strip()
    target = (form.get("next") or ["/ui/"])[0]
    target = target if _NEXT.fullmatch(target) else "/ui/"
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return _render(request, "login.html", {"next": target, "error": "enter an API token"}, status=400)
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    try:
        await run_in_threadpool(current_user, request, credentials, tokens)
    except HttpError as exc:
        return _render(request, "login.html", {"next": target, "error": exc.detail}, status=exc.status)
    response = RedirectResponse(target, status_code=303)
    set_session(response, token, secure=_secure(request))
    return response


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    """End the session (the sign-out form carries the CSRF token)."""
    token = cookie_token(request.headers.get("cookie"))
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=4)
    if token is not None and not csrf_matches(token, next(iter(form.get(CSRF_FIELD, [])), None)):
        return _error(request, 403, "missing or wrong CSRF token: reload the page")
    response = RedirectResponse("/ui/login", status_code=303)
    clear_session(response, secure=_secure(request))
    return response


@router.get("/")
def home(request: Request, tokens: TokensDep) -> Response:
    """The caller's workspaces and projects."""
    return _page(
        request, tokens, lambda ports, caller: ("home.html", {"workspaces": views.home_view(ports, caller)})
    )


@router.get("/projects/{project_id}")
def project(project_id: UUID, request: Request, tokens: TokensDep) -> Response:
    """A project's services and their health."""
    return _page(
        request,
        tokens,
        lambda ports, caller: ("project.html", {"view": views.project_view(ports, caller, str(project_id))}),
    )


def _service(request: Request, tokens: ApiTokenStore, service_id: UUID, template: str) -> Response:
    return _page(
        request,
        tokens,
        lambda ports, caller: (template, {"view": views.service_view(ports, caller, str(service_id))}),
    )


@router.get("/services/{service_id}")
def service(service_id: UUID, request: Request, tokens: TokensDep) -> Response:
    """A service: desired vs observed, rollout, drift, adoptions, deployments, events."""
    return _service(request, tokens, service_id, "service.html")


@router.get("/services/{service_id}/panels")
def service_panels(service_id: UUID, request: Request, tokens: TokensDep) -> Response:
    """The live parts of a service page, rendered again (the page swaps them in on an event)."""
    return _service(request, tokens, service_id, "_panels.html")
