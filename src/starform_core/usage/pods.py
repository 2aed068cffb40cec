"""What billing needs to know about one pod: its tenant, its requests and when it ran.

Read from the pod object only (labels for the tenant key, the PodSpec for the requests, the
container statuses for the times). A pod that does not carry Shuttle's ownership label and a
valid tenant key (§24.1) is not a Starform service's pod: :func:`pod_facts` returns ``None``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from starform_core.errors import ValidationError
from starform_core.kube.labels import (
    LABEL_ENVIRONMENT,
    LABEL_MANAGED_BY,
    LABEL_PROJECT_ID,
    LABEL_SERVICE_ID,
    LABEL_WORKSPACE_ID,
    MANAGED_BY_VALUE,
)
from starform_core.model.tenant import TenantKey
from starform_core.usage.requests import PodRequests, effective_requests

__all__ = ["FINISHED_PHASES", "PodFacts", "parse_time", "pod_facts", "tenant_of"]

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""Billing identifies a pod by its ``metadata.uid``, a lower-case UUID on every API server."""

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
"""Phases of a pod whose containers have all stopped for good."""


@attrs.frozen
class PodFacts:
    """One pod as billing reads it.

    ``started``: when its app containers started running (the earliest start the statuses
    show), ``None`` when they do not say; ``finished``: when the last of them stopped, for a
    pod whose containers have all terminated, else ``None``.
    """

    uid: str
    tenant: TenantKey
    phase: str
    requests: PodRequests
    started: dt.datetime | None = None
    finished: dt.datetime | None = None


def parse_time(value: object) -> dt.datetime | None:
    """An RFC 3339 timestamp of the API (``2026-11-12T09:20:41Z``) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def tenant_of(labels: Mapping[str, Any]) -> TenantKey | None:
    """The tenant key of an object Shuttle owns, from its load-bearing labels (``None`` without
    the ownership label or with an invalid key)."""
    if labels.get(LABEL_MANAGED_BY) != MANAGED_BY_VALUE:
        return None
    values = [
        labels.get(k) for k in (LABEL_WORKSPACE_ID, LABEL_PROJECT_ID, LABEL_ENVIRONMENT, LABEL_SERVICE_ID)
    ]
    if not all(isinstance(v, str) for v in values):
        return None
    try:
        return TenantKey(*(str(v) for v in values))
    except ValidationError:
        return None


def _statuses(status: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = status.get("containerStatuses") or []
    return [s for s in items if isinstance(s, Mapping)] if isinstance(items, list) else []


def _times(statuses: Iterable[Mapping[str, Any]], state: str, field: str) -> list[dt.datetime]:
    found = []
    for status in statuses:
        for section in ("state", "lastState"):
            value = ((status.get(section) or {}).get(state) or {}).get(field)
            parsed = parse_time(value)
            if parsed is not None:
                found.append(parsed)
    return found


def _finished(statuses: list[Mapping[str, Any]]) -> dt.datetime | None:
    """When the last container stopped, if every container has terminated."""
    if not statuses or any("terminated" not in (s.get("state") or {}) for s in statuses):
        return None
    ends = [parse_time(s["state"]["terminated"].get("finishedAt")) for s in statuses]
    known = [end for end in ends if end is not None]
    return max(known) if known else None


def pod_facts(pod: Mapping[str, Any]) -> PodFacts | None:
    """The billing facts of a Starform service's pod (``None`` for any other pod)."""
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    uid = metadata.get("uid")
    if not isinstance(labels, Mapping) or not isinstance(uid, str) or not uid:
        return None
    tenant = tenant_of(labels)
    if tenant is None or not _UID.match(uid):
        return None
    status = pod.get("status") or {}
    status = status if isinstance(status, Mapping) else {}
    statuses = _statuses(status)
    starts = _times(statuses, "running", "startedAt") + _times(statuses, "terminated", "startedAt")
    phase = status.get("phase")
    return PodFacts(
        uid=uid,
        tenant=tenant,
        phase=phase if isinstance(phase, str) and phase else "Pending",
        requests=effective_requests(pod),
        started=min(starts) if starts else None,
        finished=_finished(statuses),
    )
