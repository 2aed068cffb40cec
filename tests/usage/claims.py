"""Volume claims as an API server stores them, for the usage tests, and the volume metering rule
to check against."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from tests.usage.pods import parse, stamp, tenant_labels


def claim(
    name: str,
    *,
    namespace: str = "p-demo",
    uid: str | None = None,
    request: str = "10Gi",
    capacity: str | None = None,
    phase: str | None = "Bound",
    created: dt.datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A PersistentVolumeClaim; ``capacity`` (default: the request) is set only when ``Bound``."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": uid or str(uuid.uuid4()),
        "labels": dict(tenant_labels() if labels is None else labels),
    }
    if created is not None:
        metadata["creationTimestamp"] = stamp(created)
    status: dict[str, Any] = {} if phase is None else {"phase": phase}
    if phase == "Bound":
        status["capacity"] = {"storage": capacity or request}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": request}}},
        "status": status,
    }


def claim_byte_seconds(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, int]]:
    """(seconds billed, bytes) per claim uid by Starbase's metering rule (docs/billing.md): the
    measure of the union of each ``Bound`` sample's span ``[max(start, bound_since), min(end,
    bound_until))``."""
    spans: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    size: dict[str, int] = {}
    for snapshot in snapshots:
        start, end = parse(snapshot["window"]["start"]), parse(snapshot["window"]["end"])
        assert start is not None and end is not None
        for sample in snapshot.get("volumes", ()):
            assert sample["phase"] == "Bound"
            lo = max(start, parse(sample.get("bound_since")) or start)
            hi = min(end, parse(sample.get("bound_until")) or end)
            if lo < hi:
                spans.setdefault(sample["uid"], []).append((lo, hi))
                size[sample["uid"]] = int(sample["storage"])
    return {uid: (_measure(parts), size[uid]) for uid, parts in spans.items()}


def _measure(parts: list[tuple[dt.datetime, dt.datetime]]) -> float:
    total, reach = 0.0, None
    for lo, hi in sorted(parts):
        lo = max(lo, reach) if reach is not None else lo
        if lo < hi:
            total += (hi - lo).total_seconds()
        reach = hi if reach is None else max(reach, hi)
    return total
