"""Raw-JSON access to the Kubernetes API through the official client, with errors translated.

The official ``kubernetes`` client does the HTTP (TLS, auth, proxies, retries of connections);
this module skips its typed models, which would cost seconds at 12,000 objects, and speaks the
JSON the API serves. Every foreign error becomes a :mod:`starform_core.errors` type.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import urllib3
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException

from starform_adapters.kubernetes.ratelimit import TokenBucket
from starform_core.errors import (
    ClusterApiError,
    ClusterConflictError,
    ClusterNotFoundError,
    ClusterUnavailableError,
)

__all__ = ["APPLY_PATCH", "JSON_PATCH", "KubeApi", "RequestObserver"]

APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"

RequestObserver = Callable[[str, str, int], None]
"""Called after every request with (verb, path template, HTTP status or 0 for no answer)."""

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
    ) -> Any:
        if self._limiter is not None:
            self._limiter.acquire()
        headers: dict[str, str] = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        serialized = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=_AUTH,
        )
        verb = "watch" if stream else method.lower()
        try:
            response = self._client.call_api(*serialized, _request_timeout=timeout or self._timeout)
        except ApiException as exc:
            self._observe(verb, path, 0)
            raise ClusterUnavailableError(f"{method} {path}: {exc.reason}", status=0) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self._observe(verb, path, 0)
            raise ClusterUnavailableError(f"{method} {path}: {type(exc).__name__}", status=0) from exc
        status = int(response.status)
        self._observe(verb, path, status)
        if not 200 <= status <= 299:
            data = response.read()
            raise translate(
                status, data, response.headers, f"{method} {path}", json_patch=content_type == JSON_PATCH
            )
        if stream:
            return response.response
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterUnavailableError(f"{method} {path}: reading the answer failed", status=0) from exc
        return json.loads(data) if data else None

    def _observe(self, verb: str, path: str, status: int) -> None:
        if self._observer is not None:
            self._observer(verb, path, status)

    def get(self, path: str) -> dict[str, Any]:
        """GET one object (raises :class:`ClusterNotFoundError` when it does not exist)."""
        result: dict[str, Any] = self._send("GET", path)
        return result

    def list(self, path: str, *, label_selector: str | None = None) -> dict[str, Any]:
        """LIST a collection (a ``...List`` object with ``items`` and ``metadata.resourceVersion``)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        result: dict[str, Any] = self._send("GET", path, query=query)
        return result

    def apply(self, path: str, body: Mapping[str, Any], *, field_manager: str, force: bool) -> dict[str, Any]:
        """Server-side apply ``body`` as ``field_manager``."""
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        result: dict[str, Any] = self._send(
            "PATCH", path, query=query, body=dict(body), content_type=APPLY_PATCH
        )
        return result

    def json_patch(
        self, path: str, operations: Sequence[Mapping[str, Any]], *, field_manager: str
    ) -> dict[str, Any]:
        """Apply an RFC 6902 JSON patch (used to remove fields other managers added)."""
        result: dict[str, Any] = self._send(
            "PATCH",
            path,
            query=[("fieldManager", field_manager)],
            body=[dict(op) for op in operations],
            content_type=JSON_PATCH,
        )
        return result

    def delete(self, path: str, *, uid: str | None = None) -> None:
        """DELETE with background propagation (and a UID precondition when given)."""
        options: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if uid:
            options["preconditions"] = {"uid": uid}
        self._send("DELETE", path, body=options, content_type="application/json")

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
