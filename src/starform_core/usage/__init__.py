"""Usage metering on the agent's side: which Starform pods ran, when, with which requests.

Shuttle's pod watch feeds a :class:`PodLedger` and its claim watch a :class:`ClaimLedger`; every
interval it closes the due :func:`due_windows` into usage snapshots (:func:`snapshot_documents`)
for Starbase's billing.
Pure: no I/O, no clock (times are arguments).
"""

from starform_core.usage.claim_ledger import ClaimLedger, ClaimSample
from starform_core.usage.claims import BOUND, ClaimFacts, claim_facts, claim_storage_bytes
from starform_core.usage.ledger import PodLedger, PodSample
from starform_core.usage.pods import FINISHED_PHASES, PodFacts, parse_time, pod_facts, tenant_of
from starform_core.usage.requests import PodRequests, effective_requests
from starform_core.usage.windows import (
    MAX_WINDOW,
    UsageWindow,
    due_windows,
    grid_floor,
    snapshot_id,
    wire_time,
)
from starform_core.usage.wire import MAX_PODS, pod_document, snapshot_documents, volume_document

__all__ = [
    "BOUND",
    "FINISHED_PHASES",
    "MAX_PODS",
    "MAX_WINDOW",
    "ClaimFacts",
    "ClaimLedger",
    "ClaimSample",
    "PodFacts",
    "PodLedger",
    "PodRequests",
    "PodSample",
    "UsageWindow",
    "claim_facts",
    "claim_storage_bytes",
    "due_windows",
    "effective_requests",
    "grid_floor",
    "parse_time",
    "pod_document",
    "pod_facts",
    "snapshot_documents",
    "snapshot_id",
    "tenant_of",
    "volume_document",
    "wire_time",
]
