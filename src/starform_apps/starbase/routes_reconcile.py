"""Reconcile now: ask a cluster's agent to reconcile a service (or the whole cluster) at once.

A request is stored pending; its ``NOTIFY`` wakes the agent's held long-poll, whose answer names
the pending ids (``Starform-Reconcile-Request``); the agent reconciles against a fresh list of
the live objects and reports the ids it served (``served_at``). Requests are rate-limited per
service or cluster (``STARBASE_RATE_LIMIT_RECONCILE``) on top of the caller's own quota.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Request

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, require_operator
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.ports import ClustersDep, ReconcileDep, TenancyDep
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_core.records import ReconcileRequest

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["reconcile"], responses=ERROR_RESPONSES)


def _out(record: ReconcileRequest) -> s.ReconcileRequestOut:
    return s.ReconcileRequestOut(
        id=UUID(record.request_id),
        cluster_id=UUID(record.cluster_id),
        service_id=None if record.service_id is None else UUID(record.service_id),
        requested_by=record.requested_by,
        requested_at=record.requested_at,
        served_at=record.served_at,
    )


def _charge(request: Request, key: str) -> None:
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.RECONCILE, key)


def _requested(request: Request) -> None:
    metrics: Metrics = request.app.state.metrics
    metrics.reconcile_requests.labels(event="requested").inc()


@router.post("/services/{service_id}/reconcile", status_code=202, response_model=s.ReconcileRequestOut)
def reconcile_service(
    service_id: UUID,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    tenancy: TenancyDep,
    reconciles: ReconcileDep,
) -> s.ReconcileRequestOut:
    """Ask the service's cluster agent to reconcile now (whoever may deploy the service)."""
    service = access.authorized(user, service_id, Action.DEPLOY)
    _charge(request, f"service:{service.service_id}")
    project = tenancy.get_project(service.project_id)
    record = reconciles.request_reconcile(
        project.cluster_id, service_id=service.service_id, requested_by=actor_of(user).label
    )
    _requested(request)
    return _out(record)


@router.post("/clusters/{cluster_id}/reconcile", status_code=202, response_model=s.ReconcileRequestOut)
def reconcile_cluster(
    cluster_id: UUID,
    request: Request,
    user: CurrentUser,
    clusters: ClustersDep,
    reconciles: ReconcileDep,
) -> s.ReconcileRequestOut:
    """Ask the cluster's agent to reconcile everything now (operators)."""
    require_operator(user)
    row = clusters.get_cluster(str(cluster_id))
    _charge(request, f"cluster:{row.cluster_id}")
    record = reconciles.request_reconcile(row.cluster_id, requested_by=actor_of(user).label)
    _requested(request)
    return _out(record)


@router.get("/services/{service_id}/reconcile-requests", response_model=list[s.ReconcileRequestOut])
def list_reconcile_requests(
    service_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    reconciles: ReconcileDep,
    limit: int = Query(default=20, ge=1, le=100),
) -> list[s.ReconcileRequestOut]:
    """The service's most recent reconcile requests, newest first, with ``served_at``."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    return [_out(r) for r in reconciles.service_reconcile_requests(service.service_id, limit=limit)]
