"""Registry authentication: the ``WWW-Authenticate`` challenge, bearer tokens, basic auth.

The distribution token flow: a request without (enough) credentials gets ``401`` with
``WWW-Authenticate: Bearer realm="…",service="…",scope="…"``; the client asks the realm for a
token for that service and scope (anonymously, or with the user's credentials as basic auth),
caches it until it expires, and repeats the request with ``Authorization: Bearer <token>``. A
registry answering ``Basic realm="…"`` takes the credentials on every request instead.

Credentials go to a token realm over HTTPS only, unless the registry itself was configured as a
plain-HTTP endpoint (a local registry). Tokens and passwords are held as
:class:`~starform_core.secrets_values.SecretValue` and never logged.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping

import attrs
import httpx

from starform_core.errors import RegistryProtocolError, RegistryUnauthorizedError, RegistryUnavailableError
from starform_core.registry import RegistryCredentials
from starform_core.secrets_values import SecretValue

from .answers import ERROR_BODY_LIMIT, read_bounded

__all__ = ["TOKEN_LIMIT", "Authenticator", "Challenge", "parse_challenges"]

TOKEN_LIMIT = 1024 * 1024
"""The largest token answer read."""
_DEFAULT_TOKEN_SECONDS = 60
_EXPIRY_MARGIN = 10.0
_CHALLENGE = re.compile(r"\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s+")
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(,|$)')


@attrs.frozen
class Challenge:
    """One challenge of a ``WWW-Authenticate`` header: its scheme (lower case) and parameters."""

    scheme: str
    params: Mapping[str, str]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header (one or more challenges, quoted parameters)."""
    challenges: list[Challenge] = []
    position = 0
    header = header[:8192]
    while position < len(header):
        scheme = _CHALLENGE.match(header, position)
        if not scheme:
            break
        position = scheme.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(header, position)
            if not param:
                break
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            position = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
        if not params:
            break
    return challenges


def _basic(credentials: RegistryCredentials) -> SecretValue:
    raw = f"{credentials.username}:{credentials.password.reveal()}".encode()
    return SecretValue("Basic " + base64.b64encode(raw).decode())


@attrs.frozen
class _Token:
    header: SecretValue
    expires_at: float


class Authenticator:
    """Holds each registry's credentials, the scheme it asked for, and cached bearer tokens."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        credentials: Mapping[str, RegistryCredentials],
        plain_http: Callable[[str], bool],
        monotonic: Callable[[], float],
    ) -> None:
        self._http = http
        self._credentials = dict(credentials)
        self._plain_http = plain_http
        self._monotonic = monotonic
        self._basic_registries: set[str] = set()
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._lock = threading.Lock()

    def header(self, registry: str, scope: str) -> str | None:
        """The ``Authorization`` value for a request to ``registry`` needing ``scope``, if any."""
        with self._lock:
            token = self._tokens.get((registry, scope))
            if token is not None and token.expires_at > self._monotonic():
                return token.header.reveal()
            basic = registry in self._basic_registries and registry in self._credentials
        return _basic(self._credentials[registry]).reveal() if basic else None

    def answer(self, registry: str, scope: str, header: str | None, *, reference: str) -> None:
        """Meet a ``401``'s challenge so the request can be repeated, or raise
        :class:`RegistryUnauthorizedError` when there is nothing more to try."""
        challenges = parse_challenges(header or "")
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        if bearer is not None:
            self._fetch_token(registry, scope, bearer, reference=reference)
            return
        if any(c.scheme == "basic" for c in challenges) and registry in self._credentials:
            with self._lock:
                if registry not in self._basic_registries:
                    self._basic_registries.add(registry)
                    return
        who = "the credentials were refused" if registry in self._credentials else "no credentials"
        raise RegistryUnauthorizedError(f"{reference}: unauthorized ({who})", reference=reference, status=401)

    def forget(self, registry: str, scope: str) -> None:
        """Drop a cached token the registry no longer accepts."""
        with self._lock:
            self._tokens.pop((registry, scope), None)

    def _fetch_token(self, registry: str, scope: str, challenge: Challenge, *, reference: str) -> None:
        realm = challenge.params.get("realm", "")
        url = httpx.URL(realm) if realm else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise RegistryProtocolError(f"{reference}: the token realm {realm[:200]!r} is not an HTTP URL")
        asked = [scope, *(challenge.params.get("scope") or "").split()]
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", s) for s in dict.fromkeys(a for a in asked if a)
        ]
        if "service" in challenge.params:
            params.insert(0, ("service", challenge.params["service"]))
        headers = {}
        credentials = self._credentials.get(registry)
        if credentials is not None and (url.scheme == "https" or self._plain_http(registry)):
            headers["Authorization"] = _basic(credentials).reveal()
        try:
            with self._http.stream("GET", url.copy_merge_params(params), headers=headers) as response:
                ok = response.status_code == 200
                body = read_bounded(
                    response,
                    limit=TOKEN_LIMIT if ok else ERROR_BODY_LIMIT,
                    reference=reference,
                    truncate=not ok,
                )
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(
                f"{reference}: the token service is unreachable ({type(exc).__name__})", reference=reference
            ) from exc
        if response.status_code in (401, 403):
            raise RegistryUnauthorizedError(
                f"{reference}: the token service refused the credentials (HTTP {response.status_code})",
                reference=reference,
                status=response.status_code,
            )
        if not ok:
            raise RegistryUnavailableError(
                f"{reference}: the token service answered HTTP {response.status_code}",
                reference=reference,
                status=response.status_code,
            )
        self._store_token(registry, scope, body, reference=reference)

    def _store_token(self, registry: str, scope: str, body: bytes, *, reference: str) -> None:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RegistryProtocolError(
                f"{reference}: the token answer is not JSON", reference=reference
            ) from exc
        token = document.get("token") or document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
            raise RegistryProtocolError(f"{reference}: the token answer holds no token", reference=reference)
        lifetime = document.get("expires_in", _DEFAULT_TOKEN_SECONDS)
        if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = _DEFAULT_TOKEN_SECONDS
        expires_at = self._monotonic() + max(1.0, float(lifetime) - _EXPIRY_MARGIN)
        with self._lock:
            self._tokens[(registry, scope)] = _Token(SecretValue(f"Bearer {token}"), expires_at)
