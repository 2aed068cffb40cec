"""Shuttle's view of Starbase over HTTP (httpx): the ETag pull and the status and event reports.

The pull is a long-poll when asked to wait: ``Prefer: wait=<n>`` (RFC 7240) asks Starbase to
hold an unchanged answer until the payload changes or ``n`` seconds pass; ``Preference-Applied``
says it did. ``Starform-Reconcile-Request`` on either answer carries the ids of the reconciles
asked for. The body is read as a stream and refused beyond ``max_body_bytes``.

The usage snapshots go one per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from starform_core.errors import DesiredStateSourceError, ReportRefusedError
from starform_core.payload.contract import PAYLOAD_MAX_BYTES
from starform_core.ports.source import Fetched, NotModified
from starform_core.ports.usage import UsageReceipt

__all__ = [
    "MAX_RECONCILE_REQUESTS",
    "MAX_WAIT_SECONDS",
    "REFUSED_STATUSES",
    "StarbaseClient",
    "preference_applied_wait",
    "reconcile_requests_of",
]

MAX_WAIT_SECONDS: Final = 60
"""The longest wait Shuttle asks for (the protocol's bound)."""
MAX_RECONCILE_REQUESTS: Final = 100
"""Reconcile request ids read from one answer at most (the rest wait for the next answer)."""
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_APPLIED_WAIT: Final = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,3})\"?(?:$|[,;\s])", re.IGNORECASE)

REFUSED_STATUSES: Final = frozenset({400, 409, 413, 422})
"""Answers that refuse a report for good: sending it again cannot succeed (401, 403, 404, 429 and
5xx can change once an operator or Starbase recovers, so those reports are kept and re-sent)."""


def _quoted(etag: str) -> str:
    return etag if etag.startswith('"') else f'"{etag}"'


def _unquoted(etag: str) -> str:
    return etag.removeprefix("W/").strip('"')


def preference_applied_wait(header: str | None) -> int | None:
    """The ``wait`` a ``Preference-Applied`` header says the server honoured (``None``: it did not)."""
    if not header:
        return None
    found = _APPLIED_WAIT.search(header)
    return int(found.group(1)) if found else None


def reconcile_requests_of(values: Sequence[str]) -> tuple[str, ...]:
    """The request ids of the ``Starform-Reconcile-Request`` header lines: comma-separated, once
    each in order, malformed ones left out, at most :data:`MAX_RECONCILE_REQUESTS`."""
    found: dict[str, None] = {}
    for value in values:
        for item in value.split(","):
            candidate = item.strip()
            if _REQUEST_ID.fullmatch(candidate):
                found.setdefault(candidate)
    return tuple(found)[:MAX_RECONCILE_REQUESTS]


def _body(response: httpx.Response, content: bytes | None = None) -> dict[str, Any]:
    try:
        body = json.loads(content) if content is not None else response.json()
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
        max_body_bytes: int = PAYLOAD_MAX_BYTES,
    ) -> None:
        self._cluster_id = cluster_id
        self._agent = agent
        self._timeout = timeout
        self._max_body = max_body_bytes
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
    def _check(response: httpx.Response, what: str, *, content: bytes | None = None) -> None:
        if response.is_success or response.status_code == 304:
            return
        body = _body(response, content)
        detail = str(body.get("detail") or body.get("reason") or "")[:300]
        message = f"{what}: HTTP {response.status_code} {detail}".strip()
        if response.status_code in REFUSED_STATUSES and what != "desired-state":
            raise ReportRefusedError(
                message, status=response.status_code, reason=str(body.get("reason") or "")[:100]
            )
        raise DesiredStateSourceError(message)

    def fetch(self, *, etag: str | None, wait: int = 0) -> Fetched | NotModified:
        """GET the cluster's desired state; ``If-None-Match`` makes an unchanged payload a 304,
        ``wait`` (1-60 s) asks Starbase to hold it until the payload changes."""
        wait = max(0, min(int(wait), MAX_WAIT_SECONDS))
        headers = {"If-None-Match": _quoted(etag)} if etag else {}
        if wait:
            headers["Prefer"] = f"wait={wait}"
        path = f"/v1/clusters/{self._cluster_id}/desired-state"
        # the read may take the whole wait: the timeout covers it plus the usual margin
        timeout = httpx.Timeout(self._timeout, read=self._timeout + wait)
        try:
            with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                body = self._read_bounded(response)
        except httpx.HTTPError as exc:
            raise DesiredStateSourceError(f"GET {path}: {type(exc).__name__}") from exc
        self._check(response, "desired-state", content=body)
        requests = reconcile_requests_of(response.headers.get_list("Starform-Reconcile-Request"))
        waited = preference_applied_wait(response.headers.get("Preference-Applied")) if wait else None
        if response.status_code == 304:
            return NotModified(etag=etag or "", reconcile_requests=requests, waited=waited)
        served = response.headers.get("ETag")
        if not served:
            raise DesiredStateSourceError("desired-state: the answer carries no ETag")
        return Fetched(body=body, etag=_unquoted(served), reconcile_requests=requests, waited=waited)

    def _read_bounded(self, response: httpx.Response) -> bytes:
        """The body, refused as soon as it passes ``max_body_bytes`` (declared or as it streams)."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise DesiredStateSourceError(
                f"desired-state: the answer declares {declared} bytes, above the {self._max_body}-byte limit"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise DesiredStateSourceError(
                    f"desired-state: the answer is larger than the {self._max_body}-byte limit"
                )
            chunks.append(chunk)
        return b"".join(chunks)

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

    def report_drift(self, reports: Sequence[Mapping[str, Any]]) -> int:
        """POST a batch of drift reports; returns how many Starbase had not stored yet."""
        if not reports:
            return 0
        response = self._request(
            "POST",
            f"/v1/clusters/{self._cluster_id}/drift-reports",
            json={"reports": [dict(r) for r in reports]},
        )
        self._check(response, "drift report")
        stored = _body(response).get("stored")
        return int(stored) if isinstance(stored, int) else len(reports)

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
