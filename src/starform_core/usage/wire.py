"""Usage snapshots in Starbase's wire form (``POST /v1/clusters/{id}/usage-snapshots``, docs/billing.md).

A window with more samples (pods and volume claims together) than one snapshot may carry
(:data:`MAX_PODS`) is sent as several snapshots of the same window, ids ``<cluster_id>:<start>``
then ``…@2``, ``…@3``: the metering rule bills each object's time once whichever snapshots carry
it. Volume claims go in ``volumes`` (phase ``Bound``, their size in bytes, ``bound_since`` and
``bound_until`` when inside the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from starform_core.usage.claim_ledger import ClaimSample
from starform_core.usage.claims import BOUND
from starform_core.usage.ledger import PodSample
from starform_core.usage.windows import UsageWindow, snapshot_id, wire_time

__all__ = ["MAX_PODS", "pod_document", "snapshot_documents", "volume_document"]

MAX_PODS: Final = 10_000
"""Samples (pods and volumes together) Starbase takes in one snapshot."""


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


def volume_document(sample: ClaimSample) -> dict[str, Any]:
    """One bound volume claim as Starbase reads it (its size in bytes)."""
    document: dict[str, Any] = {
        "uid": sample.uid,
        "workspace_id": sample.tenant.workspace_id,
        "project_id": sample.tenant.project_id,
        "environment": sample.tenant.environment,
        "service_id": sample.tenant.service_id,
        "phase": BOUND,
        "storage": str(sample.storage_bytes),
    }
    if sample.bound_since is not None:
        document["bound_since"] = wire_time(sample.bound_since)
    if sample.bound_until is not None:
        document["bound_until"] = wire_time(sample.bound_until)
    return document


def snapshot_documents(
    cluster_id: str,
    window: UsageWindow,
    samples: Sequence[PodSample],
    *,
    agent: str,
    claims: Sequence[ClaimSample] = (),
) -> list[dict[str, Any]]:
    """The snapshots of one window (one, unless it held more than :data:`MAX_PODS` samples)."""
    base = snapshot_id(cluster_id, window)
    items: list[tuple[str, dict[str, Any]]] = [("pods", pod_document(s)) for s in samples]
    items += [("volumes", volume_document(c)) for c in claims]
    chunks = [items[i : i + MAX_PODS] for i in range(0, len(items), MAX_PODS)] or [items]
    documents = []
    for n, chunk in enumerate(chunks):
        document: dict[str, Any] = {
            "snapshot_id": base if n == 0 else f"{base}@{n + 1}",
            "window": {"start": wire_time(window.start), "end": wire_time(window.end)},
            "agent": agent,
            "pods": [doc for name, doc in chunk if name == "pods"],
        }
        volumes = [doc for name, doc in chunk if name == "volumes"]
        if volumes:  # snapshots without claims keep the shape they always had
            document["volumes"] = volumes
        documents.append(document)
    return documents
