"""What the cluster's agent last reported about a service: its observed status and its events,
as a page or as a live stream (Server-Sent Events, :mod:`~starform_apps.starbase.event_stream`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser
from starform_apps.starbase.convert import event_out, status_out
from starform_apps.starbase.event_stream import EventStreamResponse, EventStreams
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ports import AdoptionsDep, DashboardDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.routes_adoptions import stale_objects
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_core.records import EventsPage

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)


@router.get("/services/{service_id}/status", response_model=s.StatusOut)
def get_status(
    service_id: UUID,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    dashboard: DashboardDep,
    adoptions: AdoptionsDep,
) -> s.StatusOut:
    """The service's observed status, as its cluster's agent last reported it; ``alerts`` say
    when objects were not reported for longer than ``observed_stale_after`` (stale)."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    status = dashboard.service_status(service.service_id)
    if status is None:
        raise HttpError(404, "no status has been reported for this service yet")
    stale = [o for o in stale_objects(request, adoptions, service.service_id) if o.stale]
    out = status_out(status)
    if stale:
        out.stale_objects = len(stale)
        out.alerts = [f"observed state is stale: {len(stale)} object(s) not reported recently"]
    return out


@router.get("/services/{service_id}/events", response_model=s.EventsPageOut)
def list_events(
    service_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    dashboard: DashboardDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> s.EventsPageOut:
    """The service's events in order; page with ``after=<next_after>``."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    page = dashboard.service_events(service.service_id, after=after, limit=limit)
    return s.EventsPageOut(events=[event_out(e) for e in page.events], next_after=page.next_after)


_STREAM_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/event-stream": {}}, "description": "One frame per event (id: its seq)"},
    429: {"description": "Too many streams of this user are open (see Retry-After)"},
    503: {"description": "Too many streams on this Starbase, or it is shutting down"},
}


def _resume_cursor(last_event_id: str | None, after: int) -> int:
    """Where a stream starts: after ``Last-Event-ID`` (a reconnect) or else after ``after``."""
    if last_event_id is None or not last_event_id.strip():
        return after
    text = last_event_id.strip()
    if not text.isdigit() or len(text) > 19 or int(text) > 2**62:
        raise HttpError(400, "Last-Event-ID must be the seq of an event (a non-negative integer)")
    return int(text)


@router.get(
    "/services/{service_id}/events/stream",
    status_code=200,
    response_class=EventStreamResponse,
    responses=_STREAM_RESPONSES,
)
def stream_events(
    service_id: UUID,
    request: Request,
    user: CurrentUser,
    access: ServiceAccessDep,
    dashboard: DashboardDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> EventStreamResponse:
    """The service's events live (``text/event-stream``), after ``Last-Event-ID`` or ``after``."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    cursor = _resume_cursor(last_event_id, after)
    streams: EventStreams = request.app.state.event_streams
    ticket = streams.open(user.user_id)

    def read_page(seq: int, limit: int) -> EventsPage:
        return dashboard.service_events(service.service_id, after=seq, limit=limit)

    return EventStreamResponse(streams.body(read_page, after=cursor), ticket)
