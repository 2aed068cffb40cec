"""One HTTP session with OCI distribution registries: endpoints, authentication, bounded
exchanges, retries, metrics and logs. The reader and the writer are built on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import httpx
import structlog

from starform_core.errors import (
    RegistryError,
    RegistryNotFoundError,
    RegistryProtocolError,
    RegistryUnavailableError,
)
from starform_core.registry import RegistryCredentials

from .answers import ERROR_BODY_LIMIT, Answer, Target, error_for, read_bounded
from .auth import Authenticator
from .metrics import RegistryMetrics
from .retry import RetryPolicy

__all__ = ["DOCKER_HUB_ENDPOINT", "RegistrySession"]

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
"""Where ``docker.io`` references are served."""

T = TypeVar("T")
_log = structlog.get_logger("starform.registry")


class RegistrySession:
    """HTTP access to registries by host name.

    ``endpoints`` maps a registry host to its base URL; a host not listed is reached over HTTPS
    at its own name (``docker.io`` at Docker Hub's endpoint). Listing a host with an ``http://``
    URL is the only way to talk plain HTTP to it (a local registry). ``credentials`` maps a host
    to its credentials; without any the session is anonymous. ``monotonic`` and ``wall_clock``
    are injectable (token expiry, ``Retry-After`` dates).
    """

    def __init__(
        self,
        *,
        endpoints: Mapping[str, str] | None = None,
        credentials: Mapping[str, RegistryCredentials] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
        metrics: RegistryMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        user_agent: str = "starform-registry/0.1",
    ) -> None:
        self._endpoints = {host: httpx.URL(url.rstrip("/")) for host, url in (endpoints or {}).items()}
        for host, url in self._endpoints.items():
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError(f"registry endpoint for {host} is not an http(s) URL")
        self._retry = retry or RetryPolicy()
        self._metrics = metrics or RegistryMetrics()
        self._wall_clock = wall_clock
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout), transport=transport, headers={"User-Agent": user_agent}
        )
        self.auth = Authenticator(
            self._http,
            credentials=credentials or {},
            plain_http=lambda host: self.endpoint(host).scheme == "http",
            monotonic=monotonic,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RegistrySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def endpoint(self, registry: str) -> httpx.URL:
        """The base URL serving ``registry``."""
        if registry in self._endpoints:
            return self._endpoints[registry]
        if registry == "docker.io":
            return httpx.URL(DOCKER_HUB_ENDPOINT)
        return httpx.URL(f"https://{registry}")

    def url(self, registry: str, path: str) -> httpx.URL:
        """``path`` (starting with ``/v2/``) on ``registry``'s endpoint."""
        base = self.endpoint(registry)
        return base.copy_with(raw_path=(base.raw_path.rstrip(b"/") + path.encode()))

    def now(self) -> float:
        """Wall-clock time (Unix seconds), for ``Retry-After`` dates."""
        return self._wall_clock()

    def exchange(
        self,
        method: str,
        url: httpx.URL,
        *,
        registry: str,
        scope: str,
        reference: str,
        limit: int,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = False,
    ) -> Answer:
        """One request, authenticated for ``scope`` (answering one challenge), its body read
        within ``limit`` (a success) or :data:`ERROR_BODY_LIMIT` (anything else)."""
        same_origin = (url.scheme, url.netloc) == (
            self.endpoint(registry).scheme,
            self.endpoint(registry).netloc,
        )
        challenged = False
        while True:
            request_headers = dict(headers or {})
            authorization = self.auth.header(registry, scope) if same_origin else None
            if authorization:
                request_headers["Authorization"] = authorization
            try:
                request = self._http.build_request(method, url, headers=request_headers, content=content)
                response = self._http.send(request, stream=True, follow_redirects=follow_redirects)
            except httpx.InvalidURL as exc:
                raise RegistryProtocolError(
                    f"{reference}: the registry sent an invalid URL", reference=reference
                ) from exc
            except httpx.HTTPError as exc:
                raise RegistryUnavailableError(
                    f"{method} {reference}: the registry is unreachable ({type(exc).__name__})",
                    reference=reference,
                ) from exc
            try:
                if response.status_code == 401 and same_origin and not challenged:
                    challenged = True
                    self.auth.forget(registry, scope)
                    self.auth.answer(
                        registry, scope, response.headers.get("WWW-Authenticate"), reference=reference
                    )
                    continue
                ok = response.is_success
                body = (
                    b""
                    if method == "HEAD"
                    else self._read(response, limit=limit if ok else None, reference=reference)
                )
                return Answer(response.status_code, httpx.Headers(response.headers), body, str(response.url))
            finally:
                response.close()

    @staticmethod
    def _read(response: httpx.Response, *, limit: int | None, reference: str) -> bytes:
        try:
            if limit is None:
                return read_bounded(response, limit=ERROR_BODY_LIMIT, reference=reference, truncate=True)
            return read_bounded(response, limit=limit, reference=reference)
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(
                f"{reference}: the answer was cut off ({type(exc).__name__})", reference=reference
            ) from exc

    def error(self, answer: Answer, *, operation: str, reference: str, target: Target) -> RegistryError:
        """The typed error for a non-success answer."""
        return error_for(answer, operation=operation, reference=reference, target=target, now=self.now())

    def run(self, operation: str, reference: str, fn: Callable[[], T]) -> T:
        """Run one operation with retries, metrics and logs."""

        def on_retry(error: BaseException, wait: float, attempt: int) -> None:
            self._metrics.retries.labels(operation, type(error).__name__).inc()
            _log.warning(
                "registry.retry",
                operation=operation,
                reference=reference,
                error=type(error).__name__,
                detail=str(error)[:300],
                attempt=attempt,
                wait_seconds=round(wait, 3),
            )

        started = time.perf_counter()
        try:
            result = self._retry.call(fn, on_retry=on_retry)
        except RegistryError as error:
            self._metrics.calls.labels(operation, type(error).__name__).inc()
            if not isinstance(error, RegistryNotFoundError):
                _log.warning(
                    "registry.failed",
                    operation=operation,
                    reference=reference,
                    error=type(error).__name__,
                    detail=str(error)[:300],
                )
            raise
        finally:
            self._metrics.duration.labels(operation).observe(time.perf_counter() - started)
        self._metrics.calls.labels(operation, "ok").inc()
        return result
