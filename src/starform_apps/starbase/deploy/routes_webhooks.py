"""``POST /v1/webhooks/github?installation_id=N``: GitHub deliveries for one installation.

The route answers within GitHub's 10 s budget: it verifies ``X-Hub-Signature-256`` over the raw
body with the installation's secret (constant time) before parsing anything, de-duplicates by
``X-GitHub-Delivery`` in ``webhook_deliveries``, and for a push queues (or debounces) the builds
and hands them to the job queue; the building happens in workers.

Answers: ``202`` with what the delivery did (``duplicate`` for a replay); ``401`` for a missing or
wrong signature; ``403`` for a push of a suspended or deleted installation (recorded); ``404``
for an installation Starbase does not know (nothing recorded: an unverifiable delivery must not
take a delivery id); ``400``/``422`` for malformed JSON or payloads; ``413`` over
:data:`~starform_apps.starbase.bounds.MAX_GIT_WEBHOOK_BYTES`; ``429`` past the webhook quota
(``STARBASE_RATE_LIMIT_WEBHOOK``, per installation; GitHub's redelivery brings a refused one back).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import structlog
from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from starform_apps.starbase.body_guard import BodyRejectedError, check_json_body
from starform_apps.starbase.deploy.metrics import DeployMetrics
from starform_apps.starbase.deploy.ports import DeployPorts, DeployPortsDep
from starform_apps.starbase.deploy.schemas import WebhookOut
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.quotas import Quota
from starform_apps.starbase.ratelimit import RateLimits
from starform_core.build import InstallationState
from starform_core.errors import StoreNotFoundError, WebhookPayloadError, WebhookSignatureError
from starform_core.gitpush import (
    DEBOUNCE,
    IGNORED,
    SIGNATURE_HEADER,
    check_delivery_id,
    parse_installation,
    parse_push,
    verify_signature,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["webhooks"], responses=ERROR_RESPONSES)
_log = structlog.get_logger("starbase.webhooks")
_EVENT_MAX = 64


def _metrics(request: Request) -> DeployMetrics:
    metrics: DeployMetrics = request.app.state.deploy_metrics
    return metrics


def _document(body: bytes) -> dict[str, Any]:
    try:
        check_json_body(body)
    except BodyRejectedError as exc:
        raise HttpError(exc.status, str(exc.detail)) from exc
    document = json.loads(body)
    if not isinstance(document, dict):
        raise WebhookPayloadError("body", "must be a JSON object")
    return document


def _same_installation(payload_id: int, installation_id: int) -> None:
    if payload_id != installation_id:
        raise WebhookPayloadError("installation.id", "is not the installation this webhook URL is for")


def _push(ports: DeployPorts, delivery: str, installation_id: int, document: dict[str, Any]) -> WebhookOut:
    push = parse_push(document)
    _same_installation(push.installation_id, installation_id)
    installation = ports.git.get_installation(installation_id)
    if installation.state is not InstallationState.ACTIVE:
        detail = f"installation {installation_id} is {installation.state.value}"
        ports.git.record_delivery(
            delivery, "push", installation_id=installation_id, outcome="refused", detail=detail
        )
        _log.warning(
            "push refused", delivery=delivery, installation=installation_id, state=installation.state.value
        )
        raise HttpError(403, f"{detail}: pushes are not acted on")
    now = dt.datetime.now(dt.UTC)
    result = ports.git.queue_push(delivery, push, now=now, wait=DEBOUNCE)
    if result.duplicate:
        return WebhookOut(delivery_id=delivery, event="push", outcome="duplicate")
    if ports.jobs is not None:
        for build_id in result.queued:
            ports.jobs.run_build(build_id, at=now + DEBOUNCE)
    return WebhookOut(
        delivery_id=delivery,
        event="push",
        outcome="queued" if result.queued else "ignored",
        builds=list(result.queued),  # type: ignore[arg-type]
        cancelled=list(result.cancelled),  # type: ignore[arg-type]
    )


def _installation(
    ports: DeployPorts, delivery: str, installation_id: int, document: dict[str, Any]
) -> WebhookOut:
    event = parse_installation(document)
    if event is None:
        return _recorded(ports, delivery, "installation", installation_id, IGNORED)
    _same_installation(event.installation_id, installation_id)
    applied = ports.git.apply_installation_event(delivery, event)
    return WebhookOut(
        delivery_id=delivery, event="installation", outcome="recorded" if applied else "duplicate"
    )


def _recorded(
    ports: DeployPorts, delivery: str, event: str, installation_id: int, outcome: str
) -> WebhookOut:
    fresh = ports.git.record_delivery(delivery, event, installation_id=installation_id, outcome=outcome)
    answer = outcome if fresh else "duplicate"
    return WebhookOut(delivery_id=delivery, event=event, outcome=answer)  # type: ignore[arg-type]


def _handle(
    ports: DeployPorts, request: Request, body: bytes, installation_id: int, event: str, delivery: str
) -> WebhookOut:
    try:
        secret = ports.git.webhook_secret(installation_id)
    except StoreNotFoundError as exc:
        _log.warning("webhook for an unknown installation", installation=installation_id, github_event=event)
        raise HttpError(404, "unknown installation: register it in its workspace first") from exc
    verify_signature((secret,), body, request.headers.get(SIGNATURE_HEADER))
    document = _document(body)
    if event == "push":
        return _push(ports, delivery, installation_id, document)
    if event == "installation":
        return _installation(ports, delivery, installation_id, document)
    return _recorded(ports, delivery, event, installation_id, "recorded" if event == "ping" else IGNORED)


@router.post("/webhooks/github", status_code=202, response_model=WebhookOut)
async def github_webhook(
    request: Request, ports: DeployPortsDep, installation_id: int = Query(ge=1, le=2**63 - 1)
) -> WebhookOut:
    """A GitHub delivery for ``installation_id`` (signed with the installation's secret)."""
    metrics = _metrics(request)
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.WEBHOOK, f"github:{installation_id}")
    event = request.headers.get("X-GitHub-Event", "")
    if not event or len(event) > _EVENT_MAX or not event.replace("_", "").isalnum():
        metrics.webhooks.labels(event="invalid", outcome="rejected").inc()
        raise WebhookPayloadError("X-GitHub-Event", "must name the event (letters, digits, _)")
    body = await request.body()
    try:
        delivery = check_delivery_id(request.headers.get("X-GitHub-Delivery"))
        answer = await run_in_threadpool(_handle, ports, request, body, installation_id, event, delivery)
    except WebhookSignatureError:
        metrics.webhooks.labels(event=event, outcome="bad_signature").inc()
        _log.warning("webhook signature refused", installation=installation_id, github_event=event)
        raise
    except (HttpError, WebhookPayloadError):
        metrics.webhooks.labels(event=event, outcome="refused").inc()
        raise
    metrics.webhooks.labels(event=event, outcome=answer.outcome).inc()
    _log.info(
        "webhook", delivery=delivery, github_event=event, outcome=answer.outcome, builds=len(answer.builds)
    )
    return answer
