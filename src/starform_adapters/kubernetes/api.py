"""Raw-JSON access to the Kubernetes API through the official client, with errors translated.

The official ``kubernetes`` client does the HTTP (TLS, auth, proxies, retries of connections);
this module skips its typed models, which would cost seconds at 12,000 objects, and speaks the
JSON the API serves. Every foreign error becomes a :mod:`starform_core.errors` type.

Every request is observed once, when its answer is known: ``(verb, kind, code)`` with the
Kubernetes audit verb (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
``delete``), the kind the path names and the HTTP status, or ``transport-error`` when no
complete answer arrived (a connection refused or dropped, even after a ``200`` head). Attempts
that fail inside urllib3 (each of its retries included) are observed by :class:`ObservedRetry`,
the others by :class:`KubeApi` once the answer is read. Writes carry the caller's request id
as ``Audit-ID``, the header kube-apiserver records in its audit log.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from urllib3.util.retry import Retry

from starform_adapters.kubernetes.ratelimit import TokenBucket
from starform_adapters.kubernetes.resources import kind_for_path
from starform_core.errors import (
    ClusterApiError,
    ClusterConflictError,
    ClusterNotFoundError,
    ClusterUnavailableError,
)

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "TRANSPORT_ERROR",
    "KubeApi",
    "ObservedRetry",
    "RequestObserver",
    "request_labels",
]

APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"

TRANSPORT_ERROR: Final = "transport-error"
"""The ``code`` of a request that got no complete answer."""

RequestObserver = Callable[[str, str, str], None]
"""Called once per request attempt with (verb, kind, HTTP status or :data:`TRANSPORT_ERROR`)."""

_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_labels(method: str, url: str) -> tuple[str, str]:
    """The (audit verb, kind) of a request: ``GET`` is ``get``, ``list`` or ``watch`` by its path."""
    parts = urlsplit(url)
    kind, named = kind_for_path(parts.path)
    if method.upper() != "GET":
        return _VERBS.get(method.upper(), method.lower()), kind
    if named or kind == "discovery":
        return "get", kind
    watch = parse_qs(parts.query).get("watch", [""])[0].lower() in ("true", "1")
    return ("watch" if watch else "list"), kind


def _no_answer(exc: BaseException) -> str:
    """Why no answer came, in words (``connection refused``), not a urllib3 class name."""
    cause = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason else exc
    text = str(cause).rsplit(": ", 1)[-1] if str(cause) else type(cause).__name__
    return f"the API server did not answer ({text.strip() or type(cause).__name__})"


class ObservedRetry(Retry):
    """urllib3's retry policy, observing each attempt it retries (the final one is observed by
    :class:`KubeApi`), so the request counters match what the API server saw."""

    observer: RequestObserver | None = None

    def new(self, **kw: Any) -> ObservedRetry:
        """The next state of the policy, keeping the observer."""
        retry = super().new(**kw)
        retry.observer = self.observer
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> ObservedRetry:
        """Observe the failed attempt, then let urllib3 decide whether to retry."""
        if self.observer is not None and method and url:
            verb, kind = request_labels(method, url)
            code = str(response.status) if response is not None and error is None else TRANSPORT_ERROR
            self.observer(verb, kind, code)
        return super().increment(method, url, response, error, _pool, _stacktrace)


_AUTH = ["BearerToken"]


_UNTYPABLE_APPLY = "failed to create typed patch object"
"""How kube-apiserver answers (``500``) an apply whose body has a field the schema does not know."""


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        status = json.loads(body)
    except ValueError:
        return {"message": body[:200].decode("utf-8", "replace")}
    return status if isinstance(status, dict) else {}


def _status_message(status: Mapping[str, Any]) -> str:
    return str(status.get("message") or status.get("reason") or "")


def translate(
    status: int,
    body: bytes | None,
    headers: Mapping[str, str] | None,
    what: str,
    *,
    json_patch: bool = False,
) -> ClusterApiError:
    """Map an HTTP error answer to the project's cluster error types.

    A JSON patch the server could not apply (a ``test`` that failed, a path that is gone) is a
    ``422`` without field causes; the object changed since the patch was computed, so it is a
    conflict, like a stale ``resourceVersion``. A ``422`` with causes is a validation failure.
    """
    decoded = _status(body)
    message = f"{what}: HTTP {status} {_status_message(decoded)}".strip()
    retry_after = _retry_after(headers)
    if status == 404:
        return ClusterNotFoundError(message, status=status)
    if status == 409:
        return ClusterConflictError(message, status=status)
    if status == 422 and json_patch and not (decoded.get("details") or {}).get("causes"):
        return ClusterConflictError(message, status=status)
    if status == 500 and _status_message(decoded).startswith(_UNTYPABLE_APPLY):
        return ClusterApiError(message, status=status)  # the body is wrong; retrying cannot help
    if status in (429, 500, 502, 503, 504) or status == 0:
        return ClusterUnavailableError(message, status=status, retry_after=retry_after)
    return ClusterApiError(message, status=status, retry_after=retry_after)


class KubeApi:
    """A thin JSON client for the Kubernetes API on top of the official client's HTTP layer."""

    def __init__(
        self,
        configuration: Configuration,
        *,
        rate_limiter: TokenBucket | None = None,
        observer: RequestObserver | None = None,
        timeout: float = 30.0,
    ) -> None:
        configured = configuration.retries
        retries = ObservedRetry(total=configured if isinstance(configured, int) else 3)  # urllib3's default
        retries.observer = observer
        configuration.retries = retries
        self._client = ApiClient(configuration)
        self._limiter = rate_limiter
        self._observer = observer
        self._timeout = timeout

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: object = None,
        content_type: str | None = None,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        request_id: str | None = None,
    ) -> Any:
        if self._limiter is not None:
            self._limiter.acquire()
        headers: dict[str, str] = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if request_id:
            headers["Audit-ID"] = request_id
        serialized = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=_AUTH,
        )
        verb, kind = request_labels(method, serialized[1])
        try:
            response = self._client.call_api(*serialized, _request_timeout=timeout or self._timeout)
        except ApiException as exc:  # every failed attempt was observed by ObservedRetry.increment
            raise ClusterUnavailableError(f"{method} {path}: {exc.reason}", status=0) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailableError(f"{method} {path}: {_no_answer(exc)}", status=0) from exc
        status = int(response.status)
        if stream and 200 <= status <= 299:
            self._observe(verb, kind, str(status))  # a watch counts when its stream opens
            return response.response
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # the head arrived, the body did not: the outcome of the request is unknown
            self._observe(verb, kind, TRANSPORT_ERROR)
            raise ClusterUnavailableError(f"{method} {path}: the answer was cut off", status=0) from exc
        self._observe(verb, kind, str(status))
        if not 200 <= status <= 299:
            raise translate(
                status, data, response.headers, f"{method} {path}", json_patch=content_type == JSON_PATCH
            )
        try:
            return json.loads(data) if data else None
        except ValueError as exc:
            raise ClusterUnavailableError(f"{method} {path}: the answer is not JSON", status=status) from exc

    def _observe(self, verb: str, kind: str, code: str) -> None:
        if self._observer is not None:
            self._observer(verb, kind, code)

    def get(self, path: str) -> dict[str, Any]:
        """GET one object (raises :class:`ClusterNotFoundError` when it does not exist)."""
        result: dict[str, Any] = self._send("GET", path)
        return result

    def list(self, path: str, *, label_selector: str | None = None) -> dict[str, Any]:
        """LIST a collection (a ``...List`` object with ``items`` and ``metadata.resourceVersion``)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        result: dict[str, Any] = self._send("GET", path, query=query)
        return result

    def apply(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply ``body`` as ``field_manager``."""
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        result: dict[str, Any] = self._send(
            "PATCH", path, query=query, body=dict(body), content_type=APPLY_PATCH, request_id=request_id
        )
        return result

    def json_patch(
        self,
        path: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        field_manager: str,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch (used to remove fields other managers added)."""
        result: dict[str, Any] = self._send(
            "PATCH",
            path,
            query=[("fieldManager", field_manager)],
            body=[dict(op) for op in operations],
            content_type=JSON_PATCH,
            request_id=request_id,
        )
        return result

    def delete(self, path: str, *, uid: str | None = None, request_id: str | None = None) -> None:
        """DELETE with background propagation (and a UID precondition when given)."""
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if uid:
            options["preconditions"] = {"uid": uid}
        self._send("DELETE", path, body=options, content_type="application/json", request_id=request_id)

    def watch(
        self,
        path: str,
        *,
        resource_version: str,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Open a watch from ``resource_version``; iterate the returned stream for events."""
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        response = self._send("GET", path, query=query, stream=True, timeout=(10.0, timeout_seconds + 30.0))
        return WatchStream(response)


class WatchStream:
    """The events of one watch request; :meth:`close` ends it from any thread."""

    def __init__(self, response: urllib3.response.BaseHTTPResponse) -> None:
        self._response = response

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        try:
            for chunk in self._response.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ClusterUnavailableError(f"watch stream broke: {type(exc).__name__}", status=0) from exc
        if buffer.strip():
            yield json.loads(buffer)

    def close(self) -> None:
        """Stop the stream and release its connection."""
        with contextlib.suppress(AttributeError, OSError, RuntimeError, ValueError):
            # shutdown() interrupts a blocked read from another thread; it refuses (RuntimeError)
            # once the connection went back to the pool, and (ValueError) once the connection
            # is gone, which both mean the stream already ended
            self._response.shutdown()
        self._response.release_conn()
