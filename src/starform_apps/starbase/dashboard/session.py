"""The dashboard's session: the API token in an HttpOnly cookie, and the CSRF token bound to it.

A person signs in once with an API token (the same tokens and roles as the API). The token is
kept in a cookie the page's scripts cannot read (``HttpOnly``), that the browser never sends
with a request another site started (``SameSite=Strict``), scoped to ``/ui`` and ``Secure``
when the dashboard is served over HTTPS. Every request checks the token again, so a revoked or
expired token signs the session out at once.

State-changing requests must also carry the CSRF token, an HMAC of the fixed purpose
``starform-dashboard-csrf-v1`` keyed by the API token: only a page Starbase rendered for this
session knows it (scripts read it from a ``<meta>`` tag), it needs no server-side state and is
compared in constant time. An ``Origin`` header that is not the dashboard's own is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import cookie_parser
from starlette.responses import Response

__all__ = [
    "COOKIE_PATH",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "clear_session",
    "cookie_token",
    "csrf_matches",
    "csrf_token",
    "same_origin",
    "set_session",
]

SESSION_COOKIE = "starform_session"
"""The cookie that carries the session's API token."""

COOKIE_PATH = "/ui"
"""The cookie is sent to the dashboard only (never to ``/v1``, where bearer tokens are used)."""

SESSION_SECONDS = 8 * 3600
"""How long a browser keeps the session (the token's own expiry still applies)."""

CSRF_HEADER = "x-csrf-token"
"""The header scripts send the CSRF token in."""

CSRF_FIELD = "csrf"
"""The form field HTML forms (sign out) send the CSRF token in."""

MAX_TOKEN_CHARS = 512
"""A longer cookie value is not a token Starbase issued: ignored."""

_PURPOSE = b"starform-dashboard-csrf-v1"


def csrf_token(api_token: str) -> str:
    """The CSRF token of the session signed in with ``api_token``."""
    return hmac.new(api_token.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def csrf_matches(api_token: str, presented: str | None) -> bool:
    """Whether ``presented`` is the session's CSRF token (constant time)."""
    return presented is not None and hmac.compare_digest(csrf_token(api_token), presented)


def cookie_token(cookie_header: str | None) -> str | None:
    """The session's API token from a ``Cookie`` header (``None`` when absent or malformed)."""
    if not cookie_header:
        return None
    value = cookie_parser(cookie_header).get(SESSION_COOKIE, "")
    if not value or len(value) > MAX_TOKEN_CHARS or not value.isascii() or not value.isprintable():
        return None
    return value


def same_origin(origin: str | None, *, scheme: str, host: str | None) -> bool:
    """Whether an ``Origin`` header (absent counts as same) names the dashboard's own origin."""
    if origin is None:
        return True
    return host is not None and origin in _origins(scheme, host)


def _origins(scheme: str, host: str) -> Iterable[str]:
    # behind a TLS-terminating proxy the request arrives over http for an https page
    return {f"{scheme}://{host}", f"https://{host}"}


def set_session(response: Response, api_token: str, *, secure: bool) -> None:
    """Keep ``api_token`` as the session (HttpOnly, SameSite=Strict, ``/ui`` only)."""
    response.set_cookie(
        SESSION_COOKIE,
        api_token,
        max_age=SESSION_SECONDS,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )


def clear_session(response: Response, *, secure: bool) -> None:
    """End the session in the browser."""
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
