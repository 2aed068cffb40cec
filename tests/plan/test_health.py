"""Health: kstatus-like object status and the per-service summary."""

from __future__ import annotations

from typing import Any

import pytest

from starform_core.health import (
    ObjectStatus,
    ServiceStatus,
    assess_object,
    assess_services,
)
from starform_core.kube.labels import LABEL_SERVICE_ID


def _deployment(
    replicas: int = 2,
    *,
    ready: int | None = None,
    updated: int | None = None,
    total: int | None = None,
    generation: int = 3,
    observed: int = 3,
    conditions: list[dict[str, str]] | None = None,
    service: str = "svc",
) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "generation": generation,
            "labels": {LABEL_SERVICE_ID: service},
        },
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas if total is None else total,
            "updatedReplicas": replicas if updated is None else updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions or [],
        },
    }


def _pod(
    reason: str | None = None, *, phase: str = "Running", ready: bool = True, service: str = "svc"
) -> dict[str, Any]:
    state = {"waiting": {"reason": reason}} if reason else {"running": {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "ns", "labels": {LABEL_SERVICE_ID: service}},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "state": state}],
        },
    }


def _cronjob(*, suspend: bool = False, last: str | None = None, service: str = "cron") -> dict[str, Any]:
    status = {"lastScheduleTime": last} if last else {}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "ns", "labels": {LABEL_SERVICE_ID: service}},
        "spec": {"suspend": suspend},
        "status": status,
    }


def test_a_rolled_out_deployment_is_current() -> None:
    health = assess_object(_deployment())
    assert health.status is ObjectStatus.CURRENT
    assert health.reason == "2 of 2 replicas available"


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [
        (_deployment(observed=2), "generation 3 not yet observed (at 2)"),
        (_deployment(updated=1), "1 of 2 replicas updated"),
        (_deployment(total=3), "1 old replicas pending termination"),
        (_deployment(ready=1), "1 of 2 replicas available"),
    ],
)
def test_a_rolling_deployment_is_in_progress(deployment: dict[str, Any], reason: str) -> None:
    health = assess_object(deployment)
    assert health.status is ObjectStatus.IN_PROGRESS
    assert health.reason == reason


def test_a_missed_progress_deadline_is_a_failure() -> None:
    stuck = _deployment(
        updated=1,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
    )
    assert assess_object(stuck).status is ObjectStatus.FAILED


@pytest.mark.parametrize(
    "reason", ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError"]
)
def test_pods_waiting_for_good_fail_their_workload(reason: str) -> None:
    health = assess_object(_deployment(ready=0), pods=[_pod(reason)])
    assert health.status is ObjectStatus.FAILED
    assert reason in health.reason
    assert assess_object(_pod(reason)).status is ObjectStatus.FAILED
    assert assess_object(_pod("ContainerCreating", ready=False)).status is ObjectStatus.IN_PROGRESS


def test_deletion_wins_over_everything() -> None:
    deployment = _deployment()
    deployment["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert assess_object(deployment).status is ObjectStatus.TERMINATING


def test_jobs_and_cronjobs() -> None:
    failed = {
        "kind": "Job",
        "metadata": {},
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
    }
    assert assess_object(failed).status is ObjectStatus.FAILED
    assert "BackoffLimitExceeded" in assess_object(failed).reason
    done = {"kind": "Job", "metadata": {}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert assess_object(done).status is ObjectStatus.CURRENT
    assert assess_object({"kind": "Job", "metadata": {}}).status is ObjectStatus.IN_PROGRESS
    assert (
        assess_object(_cronjob(last="2026-01-01T02:30:00Z")).reason
        == "last scheduled at 2026-01-01T02:30:00Z"
    )
    assert assess_object(_cronjob(suspend=True)).reason == "suspended"


def test_claims_services_and_routes() -> None:
    assert (
        assess_object({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}).status
        is ObjectStatus.IN_PROGRESS
    )
    assert (
        assess_object({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}).status
        is ObjectStatus.CURRENT
    )
    lb = {"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}}
    assert assess_object(lb).status is ObjectStatus.IN_PROGRESS
    rejected = {
        "kind": "HTTPRoute",
        "status": {
            "parents": [
                {"conditions": [{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners"}]}
            ]
        },
    }
    assert assess_object(rejected).status is ObjectStatus.FAILED
    assert assess_object({"kind": "ConfigMap"}).status is ObjectStatus.CURRENT


def test_service_summaries() -> None:
    live = [
        _deployment(service="healthy"),
        _deployment(ready=0, service="broken"),
        _pod("ImagePullBackOff", service="broken"),
        _deployment(ready=1, service="degraded"),
        _pod("CrashLoopBackOff", service="degraded"),
        _deployment(updated=1, service="rolling"),
        _deployment(0, service="paused"),
        _cronjob(suspend=True, service="suspended"),
        {"kind": "Namespace", "metadata": {"name": "ns"}},
    ]
    health = assess_services(live)
    assert {sid: h.status for sid, h in health.items()} == {
        "broken": ServiceStatus.ERROR,
        "degraded": ServiceStatus.DEGRADED,
        "healthy": ServiceStatus.HEALTHY,
        "paused": ServiceStatus.PAUSED,
        "rolling": ServiceStatus.PROGRESSING,
        "suspended": ServiceStatus.PAUSED,
    }
    assert "ImagePullBackOff" in health["broken"].reason
    assert list(health) == sorted(health)
