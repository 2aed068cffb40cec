"""Plain HTTP against any Kubernetes API (the real one or the test server) through the official
client's transport: the caller picks the method, path, query, body and content type, and gets
the status and the decoded JSON back (errors included, never raised)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
from kubernetes.client import ApiClient, Configuration

__all__ = ["RawClient", "Reply"]

_AUTH = ["BearerToken"]


@attrs.frozen
class Reply:
    """One answer: HTTP status and the decoded body (``None`` when empty)."""

    status: int
    body: Any
    headers: dict[str, str] = attrs.field(factory=dict, eq=False)

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status <= 299

    def expect(self, *statuses: int) -> Any:
        """The body, after checking the status is one of ``statuses`` (any 2xx when none given)."""
        if (statuses and self.status not in statuses) or (not statuses and not self.ok):
            raise AssertionError(f"HTTP {self.status}: {json.dumps(self.body)[:2000]}")
        return self.body


class RawClient:
    """Send requests with the official client's connection pool, TLS and credentials."""

    def __init__(self, configuration: Configuration) -> None:
        self._client = ApiClient(configuration)

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: object = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> Reply:
        """One request; ``body`` is sent as JSON (bytes are sent as they are)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self._client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=_AUTH,
        )
        response = self._client.call_api(*serialized, _request_timeout=timeout)
        data = response.read()
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = data.decode("utf-8", "replace")
        return Reply(int(response.status), decoded, dict(response.headers or {}))
