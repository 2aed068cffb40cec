"""Usage snapshots in Starbase's wire form (``POST /v1/clusters/{id}/usage-snapshots``, docs/billing.md).

A window with more pods than one snapshot may carry (:data:`MAX_PODS`) is sent as several
snapshots of the same window, ids ``<cluster_id>:<start>`` then ``…@2``, ``…@3``: the metering
rule bills each pod's time once whichever snapshots carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starform_core.usage.ledger import PodSample
from starform_core.usage.windows import UsageWindow, snapshot_id, wire_time

__all__ = ["MAX_PODS", "pod_document", "snapshot_documents"]

MAX_PODS: Final = 10_000
"""Samples Starbase takes in one snapshot."""


def pod_document(sample: PodSample) -> dict[str, Any]:
    """One pod sample as Starbase reads it."""
    document: dict[str, Any] = {
        "uid": sample.uid,
        "workspace_id": sample.tenant.workspace_id,
        "project_id": sample.tenant.project_id,
        "environment": sample.tenant.environment,
        "service_id": sample.tenant.service_id,
        "phase": sample.phase,
        "cpu": sample.requests.cpu,
        "memory": sample.requests.memory,
    }
    if sample.running_since is not None:
        document["running_since"] = wire_time(sample.running_since)
    if sample.running_until is not None:
        document["running_until"] = wire_time(sample.running_until)
    return document


def snapshot_documents(
    cluster_id: str, window: UsageWindow, samples: Sequence[PodSample], *, agent: str
) -> list[dict[str, Any]]:
    """The snapshots of one window (one, unless it ran more than :data:`MAX_PODS` pods)."""
    base = snapshot_id(cluster_id, window)
    chunks = [samples[i : i + MAX_PODS] for i in range(0, len(samples), MAX_PODS)] or [samples]
    return [
        {
            "snapshot_id": base if n == 0 else f"{base}@{n + 1}",
            "window": {"start": wire_time(window.start), "end": wire_time(window.end)},
            "agent": agent,
            "pods": [pod_document(sample) for sample in chunk],
        }
        for n, chunk in enumerate(chunks)
    ]
