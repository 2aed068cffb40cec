"""Adopt and the observed objects: drift reports from agents, decisions by users (seed 004).

``POST /v1/clusters/{id}/drift-reports`` takes the agent's drift reports (``adopt`` policy);
``GET /v1/services/{id}/adoptions`` lists pending adoptions and recent decisions;
``POST /v1/adoptions/{id}/approve`` and ``/reject`` decide a pending one (the roles that may
deploy the service; ``409`` when it is not pending, ``422`` naming the rule when the value is
outside the template's rules); ``GET /v1/services/{id}/objects`` lists the service's objects by
Kubernetes UID with their observed snapshot and whether they are stale.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Query, Request

from starform_apps.starbase import schemas_adoptions as a
from starform_apps.starbase.auth import CurrentUser, actor_of, check_agent
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.ports import AdoptionsDep, AgentsDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.routes_agents import Credentials
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_core.ports.adoptions import AdoptionRecord, DriftField, DriftReport, ObservedObject

__all__ = ["adoption_out", "object_out", "router", "stale_objects"]

_log = structlog.get_logger("starbase.adoptions")

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


def adoption_out(record: AdoptionRecord) -> a.AdoptionOut:
    """An adoption body."""
    return a.AdoptionOut(
        id=record.adoption_id,  # type: ignore[arg-type]
        service_id=record.service_id,  # type: ignore[arg-type]
        kind=record.kind,
        namespace=record.namespace,
        name=record.name,
        uid=record.uid,
        field=record.field,
        spec_field=record.spec_field,
        live=record.live,
        desired=record.desired,
        manager=record.manager,
        status=record.status.value,
        within_rules=record.within_rules,
        problems=[a.AdoptionProblemOut.model_validate(dict(p)) for p in record.problems],
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        generation=record.generation,
        first_reported_at=record.first_reported_at,
        last_reported_at=record.last_reported_at,
    )


def object_out(obj: ObservedObject) -> a.ServiceObjectOut:
    """An observed object body."""
    return a.ServiceObjectOut(
        kind=obj.kind,
        namespace=obj.namespace,
        name=obj.name,
        uid=obj.uid,
        first_seen_at=obj.first_seen_at,
        last_seen_at=obj.last_seen_at,
        current=obj.current,
        present=obj.present,
        stale=obj.stale,
        observed=dict(obj.observed),
    )


def stale_objects(request: Request, adoptions: AdoptionsDep, service_id: str) -> list[ObservedObject]:
    """The service's objects, with a WARNING and the metric when some are stale."""
    threshold: float = request.app.state.observed_stale_after
    objects = adoptions.service_objects(service_id, stale_after_seconds=threshold)
    stale = [o for o in objects if o.stale]
    if stale:
        metrics: Metrics = request.app.state.metrics
        metrics.observed_stale.inc(len(stale))
        _log.warning(
            "observed state is stale: objects not reported by the agent for too long",
            service_id=service_id,
            stale=len(stale),
            stale_after_seconds=threshold,
            examples=[f"{o.kind} {o.namespace}/{o.name}" for o in stale[:5]],
        )
    return objects


def _report(body: a.DriftReportIn) -> DriftReport:
    return DriftReport(
        report_id=body.report_id,
        service_id=str(body.service_id),
        kind=body.object.kind,
        namespace=body.object.namespace,
        name=body.object.name,
        uid=body.object.uid,
        fields=tuple(
            DriftField(path=f.path, live=f.live, desired=f.desired, manager=f.manager)
            for f in body.fields
            if f.live is not None
        ),
        reported_at=body.reported_at,
    )


@router.post("/clusters/{cluster_id}/drift-reports", tags=["agents"], response_model=a.DriftAccepted)
def report_drift(
    cluster_id: UUID, body: a.DriftReportsIn, request: Request, credentials: Credentials, store: AgentsDep
) -> a.DriftAccepted:
    """Record the agent's drift reports as adoptions (re-sent reports only refresh them)."""
    check_agent(request, str(cluster_id), credentials)
    recorded = store.record_drift(str(cluster_id), [_report(r) for r in body.reports])
    metrics: Metrics = request.app.state.metrics
    metrics.adoptions.labels(outcome="recorded").inc(recorded)
    return a.DriftAccepted(received=len(body.reports), adoptions=recorded)


@router.get("/services/{service_id}/adoptions", tags=["services"], response_model=list[a.AdoptionOut])
def list_adoptions(
    service_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    adoptions: AdoptionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[a.AdoptionOut]:
    """Pending adoptions (oldest first), then the most recent decided ones."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return [adoption_out(r) for r in adoptions.list_adoptions(service.service_id, limit=limit)]


def _decide(
    adoption_id: UUID,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    adoptions: AdoptionsDep,
    *,
    approve: bool,
) -> a.AdoptionOut:
    service_id = adoptions.adoption_service(str(adoption_id))
    access.authorized(user, service_id, Action.DEPLOY, what="adoption")
    actor = actor_of(user)
    if approve:
        record = adoptions.approve_adoption(str(adoption_id), actor=actor)
    else:
        record = adoptions.reject_adoption(str(adoption_id), actor=actor)
    metrics: Metrics = request.app.state.metrics
    metrics.adoptions.labels(outcome="approved" if approve else "rejected").inc()
    return adoption_out(record)


@router.post("/adoptions/{adoption_id}/approve", tags=["services"], response_model=a.AdoptionOut)
def approve_adoption(
    adoption_id: UUID, request: Request, user: CurrentUser, access: ServiceAccessDep, adoptions: AdoptionsDep
) -> a.AdoptionOut:
    """Adopt the live value: written into the desired spec, the generation bumped (409: not pending)."""
    return _decide(adoption_id, request, user, access, adoptions, approve=True)


@router.post("/adoptions/{adoption_id}/reject", tags=["services"], response_model=a.AdoptionOut)
def reject_adoption(
    adoption_id: UUID, request: Request, user: CurrentUser, access: ServiceAccessDep, adoptions: AdoptionsDep
) -> a.AdoptionOut:
    """Reject the live value: the agent reverts it once (409: not pending)."""
    return _decide(adoption_id, request, user, access, adoptions, approve=False)


@router.get("/services/{service_id}/objects", tags=["services"], response_model=list[a.ServiceObjectOut])
def list_objects(
    service_id: UUID, request: Request, user: CurrentUser, access: ServiceAccessDep, adoptions: AdoptionsDep
) -> list[a.ServiceObjectOut]:
    """The service's Kubernetes objects by UID (current first), their snapshot, whether stale."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return [object_out(o) for o in stale_objects(request, adoptions, service.service_id)]
