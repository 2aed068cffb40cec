"""Answering ``GET /desired-state``: the ETag check, the held long-poll, reconcile requests.

With ``If-None-Match`` naming the current ETag and ``Prefer: wait=N``, the request is held until
the cluster's payload changes (``200``), a reconcile request is pending (``304`` naming it), the
wait elapses (``304``) or the server drains (``304``). The steady-state ``304`` costs no query:
the version and the token hash come from the notification-fed
:class:`~starform_apps.starbase.agent_views.AgentViews`, the ETag of that version from the
payload cache. Only a ``200`` reads the payload (built in a worker thread when it is not cached).
"""

from __future__ import annotations

import asyncio
import time

import attrs
from anyio import to_thread
from fastapi import Request, Response

from starform_apps.starbase.agent_views import AgentViews
from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.metrics import Metrics
from starform_apps.starbase.payload_cache import CachedPayload, PayloadCache
from starform_apps.starbase.single_flight import SingleFlight
from starform_apps.starbase.wakeups import Wakeups
from starform_core.errors import ValidationError
from starform_core.records import AgentView

__all__ = ["RECONCILE_HEADER", "UNTRUSTED_RECHECK_SECONDS", "Poll", "answer_poll", "etag_matches"]

RECONCILE_HEADER = "Starform-Reconcile-Request"
"""Names the pending reconcile request ids (comma-separated) the answer wakes the agent for."""

UNTRUSTED_RECHECK_SECONDS = 1.0
"""While no change listener runs, a held request re-reads its cluster this often."""


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names the ETag (weak or strong, or ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip().removeprefix("W/").strip('"')
        if tag in (etag, "*"):
            return True
    return False


@attrs.frozen
class Poll:
    """One desired-state request: the cluster, its ``If-None-Match`` and the wait it prefers."""

    cluster_id: str
    if_none_match: str | None
    wait: int | None


async def _payload(request: Request, cluster_id: str, view: AgentView) -> CachedPayload:
    """The payload of the view's version: from memory, else read and built once in a thread."""
    cache: PayloadCache = request.app.state.payload_cache
    cached = cache.cached(cluster_id, view.version)
    if cached is not None:
        return cached
    builds: SingleFlight[CachedPayload] = request.app.state.payload_builds

    async def build() -> CachedPayload:
        return await to_thread.run_sync(cache.current, cluster_id)

    try:
        return await builds.run((cluster_id, view.version), build)
    except ValidationError as exc:
        raise HttpError(
            500, f"the stored desired state does not validate at {exc.field}: {exc.reason}"
        ) from exc


def _headers(etag: str, view: AgentView, wait: int | None) -> dict[str, str]:
    headers = {"ETag": f'"{etag}"', "Cache-Control": "no-cache"}
    if wait is not None:
        headers["Preference-Applied"] = f"wait={wait}"
    if view.pending_requests:
        headers[RECONCILE_HEADER] = ", ".join(view.pending_requests)
    return headers


async def _changed(request: Request, poll: Poll, view: AgentView) -> tuple[Response | None, str]:
    """The ``200`` when the client's ETag is not the current one (else ``None``), and that ETag."""
    cache: PayloadCache = request.app.state.payload_cache
    etag = cache.known_etag(poll.cluster_id, view.version)
    payload = None
    if etag is None:
        payload = await _payload(request, poll.cluster_id, view)
        etag = payload.etag
    if etag_matches(poll.if_none_match, etag):
        return None, etag
    if payload is None:
        payload = await _payload(request, poll.cluster_id, view)
    headers = _headers(payload.etag, view, poll.wait)
    return Response(content=payload.body, media_type="application/json", headers=headers), payload.etag


def _not_modified(request: Request, poll: Poll, view: AgentView, etag: str) -> Response:
    metrics: Metrics = request.app.state.metrics
    metrics.not_modified.inc()
    return Response(status_code=304, headers=_headers(etag, view, poll.wait))


async def _disconnected(request: Request) -> None:
    """Return once the client has gone (a GET has no body: the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _gave_up(wakeups: Wakeups, deadline: float, gone: asyncio.Future[None]) -> str | None:
    """Why a held request stops waiting without a change, if it does."""
    if wakeups.draining:
        return "draining"
    if gone.done():
        return "disconnected"
    return "timeout" if deadline <= time.monotonic() else None


async def _hold(request: Request, poll: Poll, view: AgentView, etag: str) -> Response:
    """Hold until the payload changes, a reconcile is requested, the wait elapses, the client
    goes or the server drains."""
    views: AgentViews = request.app.state.agent_views
    wakeups: Wakeups = request.app.state.wakeups
    metrics: Metrics = request.app.state.metrics
    deadline = time.monotonic() + (poll.wait or 0)
    gone: asyncio.Future[None] = asyncio.ensure_future(_disconnected(request))
    metrics.held_polls.inc()
    try:
        while True:
            reason = _gave_up(wakeups, deadline, gone)
            if reason is not None:
                metrics.poll_wakeups.labels(reason=reason).inc()
                return _not_modified(request, poll, view, etag)
            ticket = wakeups.ticket(poll.cluster_id)  # before the read: no change can slip between
            view = await views.get(poll.cluster_id)
            changed, etag = await _changed(request, poll, view)
            if changed is not None or view.pending_requests:
                metrics.poll_wakeups.labels(reason="changed" if changed is not None else "reconcile").inc()
                return changed or _not_modified(request, poll, view, etag)
            remaining = deadline - time.monotonic()
            pause = remaining if views.live else min(remaining, UNTRUSTED_RECHECK_SECONDS)
            await wakeups.wait(ticket, pause, unless=gone)
    finally:
        gone.cancel()
        metrics.held_polls.dec()


async def answer_poll(request: Request, poll: Poll, view: AgentView) -> Response:
    """The answer to one desired-state request, ``view`` being what authenticated it."""
    changed, etag = await _changed(request, poll, view)
    if changed is not None:
        return changed
    wakeups: Wakeups = request.app.state.wakeups
    if poll.wait is None or view.pending_requests or wakeups.draining:
        return _not_modified(request, poll, view, etag)
    # Held until the ETag the client has now (``*`` included) stops being the current one.
    return await _hold(request, attrs.evolve(poll, if_none_match=f'"{etag}"'), view, etag)
