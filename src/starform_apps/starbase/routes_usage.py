"""The agent's usage endpoint: one snapshot of billable pods and volumes per window.

``POST /v1/clusters/{cluster_id}/usage-snapshots`` with the cluster's agent token. ``201`` when
applied, ``200`` with ``duplicate: true`` when the snapshot id was received before with the same
content (the outbox's retry), ``409`` for the same id with other content, ``422`` for a
malformed snapshot (naming the field), ``503`` when the database or the audit trail is down
(retry later: nothing half-written stays). Samples of projects that are not pinned to this
cluster (or whose tenant key does not match Starbase's rows) are not billed; they are listed in
``rejected`` with the reason.

The body is read by :mod:`~starform_apps.starbase.snapshot_body` (one compiled decode; the body
guard leaves this path's JSON to it), the agent's token checked on the notification-fed agent
views (no query in the steady state), and the snapshot billed in a worker thread.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from starform_apps.starbase.auth import authenticate_agent, bearer
from starform_apps.starbase.billing.dependencies import IngestionDep
from starform_apps.starbase.body_guard import BodyRejectedError
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.schemas_billing import RejectedSampleOut, SnapshotAccepted, UsageSnapshotIn
from starform_apps.starbase.snapshot_body import ReadSnapshot, read_snapshot, snapshot_of
from starform_core.errors import BillingError, SnapshotConflictError, UsageAuditError
from starform_core.ports.billing import IngestResult

__all__ = ["SNAPSHOT_BODY", "router", "snapshot_of"]

router = APIRouter(prefix="/v1", tags=["agents"], responses=ERROR_RESPONSES)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` inlined (the snapshot's models nest, never recursively)."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return dict(inline(schema))


SNAPSHOT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(UsageSnapshotIn.model_json_schema())}},
    }
}
"""The request body as documented: :class:`UsageSnapshotIn` (the route reads the bytes itself)."""


def _accepted(read: ReadSnapshot, result: IngestResult) -> SnapshotAccepted:
    pods = read.pods
    return SnapshotAccepted(
        snapshot_id=read.snapshot.snapshot_id,
        duplicate=result.duplicate,
        samples=len(read.snapshot.samples),
        billed=result.billed,
        rejected=[
            RejectedSampleOut(
                list="pods" if r.index < pods else "volumes",
                index=r.index if r.index < pods else r.index - pods,
                uid=r.uid,
                reason=r.reason,
            )
            for r in result.rejected
        ],
    )


@router.post(
    "/clusters/{cluster_id}/usage-snapshots",
    status_code=201,
    response_model=SnapshotAccepted,
    responses={200: {"model": SnapshotAccepted, "description": "Received before: nothing changed"}},
    openapi_extra=SNAPSHOT_BODY,
)
async def report_usage(
    cluster_id: UUID,
    request: Request,
    response: Response,
    credentials: Credentials,
    ingestion: IngestionDep,
) -> SnapshotAccepted | JSONResponse:
    """Bill one snapshot of the cluster's running pods and bound volumes (idempotent by id)."""
    body = await request.body()
    try:
        read = await to_thread.run_sync(
            functools.partial(read_snapshot, content_type=request.headers.get("content-type")),
            str(cluster_id),
            body,
        )
    except BodyRejectedError as rejected:  # what the body guard answers for other paths
        metrics: Metrics = request.app.state.metrics
        metrics.body_rejected.labels(status=str(rejected.status)).inc()
        return JSONResponse({"detail": rejected.detail}, status_code=rejected.status)
    await authenticate_agent(request, str(cluster_id), credentials)
    try:
        result = await to_thread.run_sync(ingestion.ingest, read.snapshot)
    except SnapshotConflictError as exc:
        raise HttpError(
            409, f"snapshot_id {read.snapshot.snapshot_id} was received before with other content"
        ) from exc
    except UsageAuditError as exc:
        raise HttpError(503, "the usage audit trail is unavailable; retry later") from exc
    except BillingError as exc:
        raise HttpError(503, str(exc)) from exc
    if result.duplicate:
        response.status_code = 200
    return _accepted(read, result)
