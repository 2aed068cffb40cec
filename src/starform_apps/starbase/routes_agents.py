"""The agent API: desired state with ETag/304, status reports, event batches.

Agents authenticate with their own cluster's token; any other token gets 404. Status reports
are de-duplicated by the agent's ``report_id`` and judged (epoch, generation): a refused one is
recorded, logged as a warning, counted and answered ``409``. Events are de-duplicated by
``event_id``. Operators read a cluster's events at ``GET /v1/clusters/{id}/events``
(:mod:`~starform_apps.starbase.routes_clusters`).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import authenticate_agent, bearer, check_agent
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.long_poll import Poll, answer_poll
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.ports import AgentsDep, ReconcileDep
from starform_apps.starbase.prefer import wait_preference
from starform_core.errors import AgentReportRefusedError
from starform_core.ports.adoptions import ObjectReport
from starform_core.records import EventRecord, ObservedStatus

__all__ = ["router"]

_log = structlog.get_logger("starbase.agents")

router = APIRouter(prefix="/v1", tags=["agents"], responses=ERROR_RESPONSES)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@router.get(
    "/clusters/{cluster_id}/desired-state",
    responses={
        200: {"content": {"application/json": {}}, "description": "The canonical payload"},
        304: {"description": "Unchanged since the ETag in If-None-Match (after the wait, if held)"},
    },
    response_class=Response,
)
async def desired_state(
    cluster_id: UUID,
    request: Request,
    credentials: Credentials,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The cluster's payload as canonical JSON with ``ETag``; ``304`` when it is unchanged.

    ``Prefer: wait=N`` (1 to 60 s, RFC 7240) holds a request whose ETag is current until the
    payload changes or a reconcile is requested; ``Starform-Reconcile-Request`` names pending
    reconcile requests. See docs/payload-contract.md, "Long-poll".
    """
    view = await authenticate_agent(request, str(cluster_id), credentials)
    poll = Poll(
        cluster_id=str(cluster_id),
        if_none_match=if_none_match,
        wait=wait_preference(request.headers.getlist("prefer")),
    )
    return await answer_poll(request, poll, view)


def _statuses(body: s.StatusReportIn) -> list[ObservedStatus]:
    return [
        ObservedStatus(
            service_id=str(item.service_id),
            health=item.health,
            generation=item.generation,
            observed_at=item.observed_at,
            reason=item.reason,
            status=item.status,
        )
        for item in body.services
    ]


def _objects(body: s.StatusReportIn) -> list[ObjectReport] | None:
    """The managed objects (``None``: an agent that does not list them)."""
    if body.objects is None:
        return None
    return [
        ObjectReport(
            service_id=str(o.service_id),
            kind=o.kind,
            namespace=o.namespace,
            name=o.name,
            uid=o.uid,
            observed=o.observed,
        )
        for o in body.objects
    ]


def _attempt(body: s.StatusReportIn) -> dict[str, object] | None:
    """The attempt as stored: the agent's account, with the payload it refused, if any."""
    if body.attempt is None:
        return None
    attempt: dict[str, object] = body.attempt.model_dump()
    if body.rejected_payload is not None:
        attempt["rejected_payload"] = body.rejected_payload.model_dump()
    return attempt


def _refused(request: Request, cluster_id: str, exc: AgentReportRefusedError) -> JSONResponse:
    metrics: Metrics = request.app.state.metrics
    metrics.agent_reports_refused.labels(reason=exc.reason).inc()
    _log.warning("agent report refused", cluster_id=cluster_id, reason=exc.reason, detail=exc.detail)
    return JSONResponse({"detail": str(exc), "reason": exc.reason}, status_code=409)


@router.post(
    "/clusters/{cluster_id}/status",
    status_code=201,
    response_model=s.StatusAccepted,
    responses={409: {"model": s.RefusedOut, "description": "Refused: another epoch, or a generation ahead"}},
)
def report_status(
    cluster_id: UUID,
    body: s.StatusReportIn,
    request: Request,
    credentials: Credentials,
    store: AgentsDep,
    reconciles: ReconcileDep,
) -> s.StatusAccepted | JSONResponse:
    """Store the generation the agent applied, its last apply attempt and each service's status.

    A re-sent ``report_id`` is stored once. ``409`` (recorded, logged, counted) when the report
    was made in another epoch than the cluster's, or names a generation above the desired one.
    ``served_reconcile_requests`` (ids from ``Starform-Reconcile-Request``) are marked served
    once the report is stored.
    """
    check_agent(request, str(cluster_id), credentials)
    try:
        report_id = store.record_status(
            str(cluster_id),
            applied_generation=body.applied_generation,
            agent=body.agent,
            statuses=_statuses(body),
            report_key=body.report_id,
            epoch=body.epoch,
            attempt=_attempt(body),
            reported_at=body.reported_at,
            objects=_objects(body),
        )
    except AgentReportRefusedError as exc:
        return _refused(request, str(cluster_id), exc)
    if body.served_reconcile_requests:
        served = reconciles.mark_reconciles_served(
            str(cluster_id), [str(request_id) for request_id in body.served_reconcile_requests]
        )
        metrics: Metrics = request.app.state.metrics
        metrics.reconcile_requests.labels(event="served").inc(served)
    epoch, generation = store.cluster_version(str(cluster_id))
    return s.StatusAccepted(
        report_id=report_id,  # type: ignore[arg-type]
        applied_generation=body.applied_generation,
        desired_generation=generation,
        epoch=epoch,
    )


@router.post("/clusters/{cluster_id}/events", response_model=s.EventsAccepted)
def report_events(
    cluster_id: UUID,
    body: s.EventsIn,
    request: Request,
    credentials: Credentials,
    store: AgentsDep,
) -> s.EventsAccepted:
    """Append a batch of events; re-sent event ids are ignored (idempotent)."""
    check_agent(request, str(cluster_id), credentials)
    stored = store.append_events(
        str(cluster_id),
        [
            EventRecord(
                event_id=e.event_id,
                type=e.type,
                occurred_at=e.occurred_at,
                service_id=None if e.service_id is None else str(e.service_id),
                reason=e.reason,
                message=e.message,
                data=e.data,
            )
            for e in body.events
        ],
    )
    metrics: Metrics = request.app.state.metrics
    metrics.agent_events.labels(result="stored").inc(stored)
    metrics.agent_events.labels(result="duplicate").inc(len(body.events) - stored)
    return s.EventsAccepted(received=len(body.events), stored=stored)
