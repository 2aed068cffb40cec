"""The agent's usage endpoint: one snapshot of billable pods and volumes per window.

``POST /v1/clusters/{cluster_id}/usage-snapshots`` with the cluster's agent token. ``201`` when
applied, ``200`` with ``duplicate: true`` when the snapshot id was received before with the same
content (the outbox's retry), ``409`` for the same id with other content, ``422`` for a
malformed snapshot (naming the field), ``503`` when the database or the audit trail is down
(retry later: nothing half-written stays). Samples of projects that are not pinned to this
cluster (or whose tenant key does not match Starbase's rows) are not billed; they are listed in
``rejected`` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from starform_apps.starbase.auth import bearer, check_agent
from starform_apps.starbase.billing.dependencies import IngestionDep
from starform_apps.starbase.body_guard import ParsedJsonRoute
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.schemas_billing import (
    PodSampleIn,
    RejectedSampleOut,
    SnapshotAccepted,
    UsageSnapshotIn,
    VolumeSampleIn,
)
from starform_core.billing import SampleKind, UsageSample, UsageSnapshot, bytes_of, cpu_millis_of
from starform_core.errors import BillingError, SnapshotConflictError, UsageAuditError, ValidationError
from starform_core.model.tenant import TenantKey

__all__ = ["router", "snapshot_of"]

router = APIRouter(prefix="/v1", tags=["agents"], responses=ERROR_RESPONSES, route_class=ParsedJsonRoute)
"""Snapshot bodies are parsed once, by the body guard (:class:`ParsedJsonRoute`)."""
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _pod(pod: PodSampleIn, tenant: TenantKey) -> UsageSample:
    return UsageSample(
        SampleKind.POD,
        pod.uid,
        tenant,
        pod.phase,
        cpu_millis=cpu_millis_of("cpu", pod.cpu),
        memory_bytes=bytes_of("memory", pod.memory),
        running_since=pod.running_since,
        running_until=pod.running_until,
    )


_VOLUME_FIELDS = {"running_since": "bound_since", "running_until": "bound_until"}
"""A volume's bound span is the core sample's running span."""


def _volume(volume: VolumeSampleIn, tenant: TenantKey) -> UsageSample:
    try:
        return UsageSample(
            SampleKind.VOLUME,
            volume.uid,
            tenant,
            volume.phase,
            storage_bytes=bytes_of("storage", volume.storage),
            running_since=volume.bound_since,
            running_until=volume.bound_until,
        )
    except ValidationError as exc:
        raise ValidationError(_VOLUME_FIELDS.get(exc.field, exc.field), exc.reason) from exc


def _samples(body: UsageSnapshotIn) -> list[UsageSample]:
    samples: list[UsageSample] = []
    tenants: dict[tuple[str, str, str, str], TenantKey] = {}  # a service's pods share theirs
    lists: tuple[tuple[str, Sequence[PodSampleIn | VolumeSampleIn]], ...] = (
        ("pods", body.pods),
        ("volumes", body.volumes),
    )
    for name, items in lists:
        for index, item in enumerate(items):
            key = (item.workspace_id, item.project_id, item.environment, item.service_id)
            try:
                tenant = tenants.get(key) or tenants.setdefault(key, TenantKey(*key))
                if isinstance(item, PodSampleIn):
                    samples.append(_pod(item, tenant))
                else:
                    samples.append(_volume(item, tenant))
            except ValidationError as exc:
                raise ValidationError(f"{name}[{index}].{exc.field}", exc.reason) from exc
    return samples


def snapshot_of(cluster_id: str, body: UsageSnapshotIn) -> UsageSnapshot:
    """The core value of a request body (field errors name the body's paths)."""
    samples = _samples(body)
    try:
        return UsageSnapshot(
            cluster_id, body.snapshot_id, body.window.start, body.window.end, samples, agent=body.agent
        )
    except ValidationError as exc:
        field = exc.field
        if field.startswith("samples["):
            index = int(field[len("samples[") : field.index("]")])
            pods = len(body.pods)
            field = f"pods[{index}].uid" if index < pods else f"volumes[{index - pods}].uid"
        raise ValidationError(field, exc.reason) from exc


@router.post(
    "/clusters/{cluster_id}/usage-snapshots",
    status_code=201,
    response_model=SnapshotAccepted,
    responses={200: {"model": SnapshotAccepted, "description": "Received before: nothing changed"}},
)
def report_usage(
    cluster_id: UUID,
    body: UsageSnapshotIn,
    request: Request,
    response: Response,
    credentials: Credentials,
    ingestion: IngestionDep,
) -> SnapshotAccepted:
    """Bill one snapshot of the cluster's running pods and bound volumes (idempotent by id)."""
    check_agent(request, str(cluster_id), credentials)
    snapshot = snapshot_of(str(cluster_id), body)
    try:
        result = ingestion.ingest(snapshot)
    except SnapshotConflictError as exc:
        raise HttpError(
            409, f"snapshot_id {body.snapshot_id} was received before with other content"
        ) from exc
    except UsageAuditError as exc:
        raise HttpError(503, "the usage audit trail is unavailable; retry later") from exc
    except BillingError as exc:
        raise HttpError(503, str(exc)) from exc
    if result.duplicate:
        response.status_code = 200
    pods = len(body.pods)
    return SnapshotAccepted(
        snapshot_id=body.snapshot_id,
        duplicate=result.duplicate,
        samples=len(snapshot.samples),
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
