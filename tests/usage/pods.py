"""Pods as an API server stores them, for the usage tests, and the metering rule to check against."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from starform_core.kube.labels import (
    LABEL_ENVIRONMENT,
    LABEL_MANAGED_BY,
    LABEL_PROJECT_ID,
    LABEL_SERVICE_ID,
    LABEL_WORKSPACE_ID,
    MANAGED_BY_VALUE,
)
from starform_core.model.tenant import TenantKey

T0 = dt.datetime(2026, 11, 12, 9, 0, tzinfo=dt.UTC)
TENANT = TenantKey(
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "production",
    "33333333-3333-4333-8333-333333333333",
)


def stamp(when: dt.datetime) -> str:
    """An API timestamp (second precision, ``Z``)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tenant_labels(tenant: TenantKey = TENANT) -> dict[str, str]:
    """The load-bearing labels billing reads."""
    return {
        LABEL_MANAGED_BY: MANAGED_BY_VALUE,
        LABEL_WORKSPACE_ID: tenant.workspace_id,
        LABEL_PROJECT_ID: tenant.project_id,
        LABEL_ENVIRONMENT: tenant.environment,
        LABEL_SERVICE_ID: tenant.service_id,
    }


def pod(
    name: str,
    *,
    namespace: str = "p-demo",
    uid: str | None = None,
    cpu: str = "250m",
    memory: str = "512Mi",
    phase: str = "Running",
    started: dt.datetime | None = None,
    finished: dt.datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A pod of one app container; ``started``/``finished`` fill its container status."""
    state: dict[str, Any] = {}
    if finished is not None:
        state = {
            "terminated": {
                "exitCode": 0,
                "startedAt": stamp(started or finished),
                "finishedAt": stamp(finished),
            }
        }
    elif started is not None:
        state = {"running": {"startedAt": stamp(started)}}
    status: dict[str, Any] = {"phase": phase}
    if state:
        status["containerStatuses"] = [{"name": "app", "ready": True, "restartCount": 0, "state": state}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or str(uuid.uuid4()),
            "labels": dict(tenant_labels() if labels is None else labels),
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ]
        },
        "status": status,
    }


def parse(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def billed_seconds(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds billed per pod uid by Starbase's metering rule (docs/billing.md): the measure of the
    union of each sample's billable span, ``[max(start, running_since), min(end, running_until))``
    for ``Running`` (and for ``Succeeded``/``Failed`` with ``running_until``)."""
    spans: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for snapshot in snapshots:
        start, end = parse(snapshot["window"]["start"]), parse(snapshot["window"]["end"])
        assert start is not None and end is not None
        for sample in snapshot["pods"]:
            until = parse(sample.get("running_until"))
            if sample["phase"] != "Running" and not (sample["phase"] in ("Succeeded", "Failed") and until):
                continue
            lo = max(start, parse(sample.get("running_since")) or start)
            hi = min(end, until or end)
            if lo < hi:
                spans.setdefault(sample["uid"], []).append((lo, hi))
    return {uid: _measure(parts) for uid, parts in spans.items()}


def _measure(parts: list[tuple[dt.datetime, dt.datetime]]) -> float:
    total, reach = 0.0, None
    for lo, hi in sorted(parts):
        if reach is not None and lo < reach:
            lo = reach
        if lo < hi:
            total += (hi - lo).total_seconds()
            reach = hi
        reach = max(reach or hi, hi)
    return total
