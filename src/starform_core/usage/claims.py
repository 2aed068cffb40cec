"""What billing needs to know about one PersistentVolumeClaim: its tenant, its size, its phase.

Read from the claim object only: the labels for the tenant key (the claims Starform renders carry
the service's labels, ``render/storage.py``), the size from ``status.capacity.storage`` once the
claim is ``Bound`` (what the provisioner gave), else ``spec.resources.requests.storage`` (what it
asks for). A claim without Shuttle's ownership label and a valid tenant key (§24.1) is not a
Starform service's volume: :func:`claim_facts` returns ``None``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from starform_core.model.tenant import TenantKey
from starform_core.quantity import parse_quantity
from starform_core.usage.pods import parse_time, tenant_of

__all__ = ["BOUND", "ClaimFacts", "claim_facts", "claim_storage_bytes"]

BOUND = "Bound"
"""The phase of a claim whose storage exists (the only phase that bills)."""

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MAX_BYTES = 1 << 50
"""Starbase refuses sizes above a pebibyte: a larger one is counted as nothing."""


@attrs.frozen
class ClaimFacts:
    """One claim as billing reads it; ``created`` is its ``metadata.creationTimestamp``."""

    uid: str
    tenant: TenantKey
    phase: str
    storage_bytes: int
    created: dt.datetime | None = None


def _storage(section: object) -> int | None:
    if not isinstance(section, Mapping) or section.get("storage") is None:
        return None
    try:
        value = math.ceil(parse_quantity(section["storage"]))
    except (ValueError, TypeError):
        return None
    return value if 0 <= value <= _MAX_BYTES else None


def claim_storage_bytes(claim: Mapping[str, Any]) -> int:
    """The claim's size in bytes: its capacity when bound, else its request (0 when neither)."""
    status = claim.get("status") or {}
    status = status if isinstance(status, Mapping) else {}
    if status.get("phase") == BOUND:
        capacity = _storage(status.get("capacity"))
        if capacity is not None:
            return capacity
    spec = claim.get("spec") or {}
    resources = spec.get("resources") if isinstance(spec, Mapping) else None
    requests = resources.get("requests") if isinstance(resources, Mapping) else None
    return _storage(requests) or 0


def claim_facts(claim: Mapping[str, Any]) -> ClaimFacts | None:
    """The billing facts of a Starform service's claim (``None`` for any other claim)."""
    metadata = claim.get("metadata") or {}
    labels = metadata.get("labels") or {}
    uid = metadata.get("uid")
    if not isinstance(labels, Mapping) or not isinstance(uid, str) or not _UID.match(uid):
        return None
    tenant = tenant_of(labels)
    if tenant is None:
        return None
    status = claim.get("status") or {}
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return ClaimFacts(
        uid=uid,
        tenant=tenant,
        phase=phase if isinstance(phase, str) and phase else "Pending",
        storage_bytes=claim_storage_bytes(claim),
        created=parse_time(metadata.get("creationTimestamp")),
    )
