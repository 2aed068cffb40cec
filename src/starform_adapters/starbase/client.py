"""Shuttle's view of Starbase over HTTP (httpx): the ETag pull, the status and event reports and
the usage snapshots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.ports.source import Fetched, NotModified
from starform_core.ports.usage import UsageReceipt

__all__ = ["REFUSED_STATUSES", "StarbaseClient"]

REFUSED_STATUSES: Final = frozenset({400, 409, 413, 422})
"""Answers that refuse a report for good: sending it again cannot succeed (401, 403, 404, 429 and
5xx can change once an operator or Starbase recovers, so those reports are kept and re-sent)."""


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _unquoted(etag: str) -> str:
    return etag.removeprefix("W/").strip('"')


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class StarbaseClient:
    """Implements :class:`~starform_core.ports.source.AgentApi` and
    :class:`~starform_core.ports.usage.UsageSink` against Starbase's agent API."""

    def __init__(
        self,
        base_url: str,
        *,
        cluster_id: str,
        token: str,
        timeout: float = 10.0,
        agent: str = "shuttle",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        self._agent = agent
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"{agent}/0.1"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DesiredStateSourceError(f"{method} {path}: {type(exc).__name__}") from exc

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.is_success or response.status_code == 304:
            return
        body = _body(response)
        detail = str(body.get("detail") or body.get("reason") or "")[:300]
        message = f"{what}: HTTP {response.status_code} {detail}".strip()
        if response.status_code in REFUSED_STATUSES and what != "desired-state":
            raise ReportRefusedError(
                message, status=response.status_code, reason=str(body.get("reason") or "")[:100]
            )
        raise DesiredStateSourceError(message)

    def fetch(self, *, etag: str | None) -> Fetched | NotModified:
        """GET the cluster's desired state; ``If-None-Match`` makes an unchanged payload a 304."""
        headers = {"If-None-Match": _quoted(etag)} if etag else {}
        path = f"/v1/clusters/{self._cluster_id}/desired-state"
        response = self._request("GET", path, headers=headers)
        self._check(response, "desired-state")
        if response.status_code == 304:
            return NotModified(etag=etag or "")
        served = response.headers.get("ETag")
        if not served:
            raise DesiredStateSourceError("desired-state: the answer carries no ETag")
        return Fetched(body=response.content, etag=_unquoted(served))

    def report_status(self, report: Mapping[str, Any]) -> None:
        """POST one status report (Starbase stores each ``report_id`` once)."""
        body = {"agent": self._agent, **report}
        response = self._request("POST", f"/v1/clusters/{self._cluster_id}/status", json=body)
        self._check(response, "status report")

    def report_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        """POST a batch of events; returns how many Starbase had not stored yet."""
        if not events:
            return 0
        response = self._request(
            "POST", f"/v1/clusters/{self._cluster_id}/events", json={"events": [dict(e) for e in events]}
        )
        self._check(response, "event report")
        stored = _body(response).get("stored")
        return int(stored) if isinstance(stored, int) else len(events)

    def report_usage(self, snapshot: Mapping[str, Any]) -> UsageReceipt:
        """POST one usage snapshot; whether it was new, and the reasons of the samples Starbase
        did not bill."""
        response = self._request(
            "POST", f"/v1/clusters/{self._cluster_id}/usage-snapshots", json=dict(snapshot)
        )
        self._check(response, "usage snapshot")
        body = _body(response)
        rejected = body.get("rejected")
        reasons = tuple(
            str(r.get("reason") or "unknown")[:100]
            for r in (rejected if isinstance(rejected, list) else [])
            if isinstance(r, dict)
        )
        return UsageReceipt(new=body.get("duplicate") is not True, rejected=reasons)
