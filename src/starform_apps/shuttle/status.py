"""Report: the status Shuttle sends Starbase, queued in the outbox when it changed.

A status report carries the epoch, the generation applied in full in it, the last apply
attempt (outcome and counts), each service's health and the objects Shuttle manages with their
UID and a small observed snapshot (:mod:`~starform_apps.shuttle.observed`). It is queued when
any of them changed, and at least every ``heartbeat_seconds``; an unsent one is replaced by the
next.

Health is judged against the desired objects of the payload held (those of kinds the cluster
serves): a desired object that is not live makes its service ``missing``
(:func:`~starform_core.health.assess_services`). It is assessed again when the live view or the
desired objects changed, and only then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starform_apps.shuttle.applied import AppliedState
from starform_apps.shuttle.held import HeldPayload
from starform_apps.shuttle.live import LiveScreens
from starform_apps.shuttle.observed import observed_objects
from starform_apps.shuttle.outbox import Outbox
from starform_apps.shuttle.reports import status_report
from starform_core.health import assess_services
from starform_core.kube.objects import KubeObject
from starform_core.ports.cluster import ClusterPort

__all__ = ["ServiceHealthFn", "StatusReporter", "service_health"]

ServiceHealthFn = Callable[[Sequence[KubeObject], Sequence[KubeObject]], Mapping[str, tuple[str, str]]]
"""Health per service id as (health, reason), from the live objects and the desired ones."""


class StatusReporter:
    """Assesses health when the live view or the desired objects changed; queues a status
    report when due."""

    def __init__(
        self,
        cluster: ClusterPort,
        outbox: Outbox,
        health: ServiceHealthFn,
        *,
        screens: LiveScreens,
        heartbeat_seconds: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime],
    ) -> None:
        self._cluster = cluster
        self._outbox = outbox
        self._health = health
        self._screens = screens
        self._heartbeat = heartbeat_seconds
        self._monotonic = monotonic
        self._now = now
        self._revision: int | None = None
        self._desired: Sequence[KubeObject] | None = None
        self._services: Mapping[str, tuple[str, str]] = {}
        self._objects: list[dict[str, Any]] = []
        self._last: tuple[Any, ...] | None = None
        self._last_at = 0.0

    def _assess(self, desired: Sequence[KubeObject]) -> Mapping[str, tuple[str, str]]:
        # health is a pure function of the live view and the desired objects: assess it only
        # when either changed (a reused plan hands over the same desired objects)
        revision = self._cluster.revision()
        if revision != self._revision or desired is not self._desired:
            live = self._screens.cluster.screen(self._cluster.live_objects()).objects
            pods = self._screens.health.screen(self._cluster.health_objects()).objects
            self._services = self._health([*live, *pods], desired)
            self._objects = observed_objects(live)
            self._revision, self._desired = revision, desired
        return self._services

    def report(
        self,
        held: HeldPayload,
        applied: AppliedState,
        *,
        desired: Sequence[KubeObject],
        rejected: Mapping[str, Any] | None = None,
        served: tuple[str, ...] = (),
    ) -> None:
        """Queue a status report if anything changed since the last one (a payload refused
        included), a heartbeat is due, or reconcile requests were ``served`` (it names them);
        ``desired`` are the objects health is judged against."""
        epoch = held.version[0]
        generation = applied.generation_in(epoch)
        attempt = applied.last_report.to_wire() if applied.last_report is not None else None
        services = tuple(sorted((sid, h, r) for sid, (h, r) in self._assess(desired).items()))
        objects = json.dumps(self._objects, sort_keys=True)
        snapshot = (epoch, generation, _comparable(attempt), _comparable(rejected), services, objects)
        due = self._monotonic() - self._last_at >= self._heartbeat
        if snapshot == self._last and not due and not served:
            return
        observed = self._now().isoformat()
        self._outbox.add(
            status_report(
                now=self._now(),
                epoch=epoch,
                applied_generation=generation,
                attempt=attempt,
                rejected=rejected,
                services=[
                    {
                        "service_id": sid,
                        "health": h,
                        "reason": r,
                        "generation": generation or 0,
                        "observed_at": observed,
                        "status": {},
                    }
                    for sid, h, r in services
                ],
                served=served,
                objects=self._objects,
            )
        )
        self._last, self._last_at = snapshot, self._monotonic()


def _comparable(attempt: Mapping[str, Any] | None) -> str:
    return "" if attempt is None else json.dumps(attempt, sort_keys=True)


def service_health(
    live: Sequence[KubeObject], desired: Sequence[KubeObject]
) -> Mapping[str, tuple[str, str]]:
    """Per-service (health, reason) of the live objects judged against the desired ones, as
    Starbase stores it (lower case: ``missing`` when a desired object is not live)."""
    return {
        service_id: (str(health.status.value).lower(), health.reason)
        for service_id, health in assess_services(live, desired=desired).items()
    }
