"""Workloads: the ServiceAccount, the Deployment (web, worker) and the CronJob (cron).

``paused`` scales a Deployment to zero (no autoscaler then) and suspends a CronJob; it never
removes anything else. Fields the API server would default are spelled out so the planner sees
no false drift.
"""

from __future__ import annotations

from typing import Any, Final

from starform_core.model.enums import AccessMode, RunState, ServiceType
from starform_core.model.workload import Release
from starform_core.render.metadata import (
    selector_labels,
    service_metadata,
)
from starform_core.render.pod import pod_template
from starform_core.render.scopes import ServiceScope

__all__ = [
    "CRON_BACKOFF_LIMIT",
    "CRON_FAILED_HISTORY",
    "CRON_STARTING_DEADLINE_SECONDS",
    "CRON_SUCCESSFUL_HISTORY",
    "PROGRESS_DEADLINE_SECONDS",
    "REVISION_HISTORY_LIMIT",
    "cronjob",
    "deployment",
    "deployment_strategy",
    "desired_replicas",
    "service_account",
]

REVISION_HISTORY_LIMIT: Final = 5
"""Old ReplicaSets kept per Deployment (enough for a quick manual rollback)."""
PROGRESS_DEADLINE_SECONDS: Final = 600
"""A rollout that makes no progress for this long is reported as failed."""
CRON_SUCCESSFUL_HISTORY: Final = 3
"""Finished Jobs a CronJob keeps."""
CRON_FAILED_HISTORY: Final = 3
"""Failed Jobs a CronJob keeps (their pods hold the logs)."""
CRON_STARTING_DEADLINE_SECONDS: Final = 300
"""A run missed by more than this (controller down, cluster busy) is skipped, not started late."""
CRON_BACKOFF_LIMIT: Final = 2
"""Retries of a failed cron run before the Job fails."""


def service_account(scope: ServiceScope) -> dict[str, Any]:
    """The service's own identity, with no API token mounted."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": service_metadata(scope, scope.names.base),
        "automountServiceAccountToken": False,
    }


def desired_replicas(scope: ServiceScope) -> int | None:
    """``spec.replicas``: 0 when paused, ``None`` (left to the HPA) when autoscaling, else set."""
    service = scope.service
    if service.state is RunState.PAUSED:
        return 0
    if service.autoscaling is not None:
        return None
    return 1 if service.replicas is None else service.replicas


def deployment_strategy(scope: ServiceScope) -> dict[str, Any]:
    """``Recreate`` with a ReadWriteOnce volume; web services roll with no unavailable pod."""
    service = scope.service
    if any(v.access_mode is AccessMode.READ_WRITE_ONCE for v in service.volumes):
        return {"type": "Recreate"}
    unavailable: int | str = 0 if service.type is ServiceType.WEB else "25%"
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": unavailable}}


def deployment(scope: ServiceScope, release: Release) -> dict[str, Any]:
    """The Deployment of a web or worker service."""
    spec: dict[str, Any] = {
        "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
        "revisionHistoryLimit": REVISION_HISTORY_LIMIT,
        "selector": {"matchLabels": selector_labels(scope.service)},
        "strategy": deployment_strategy(scope),
        "template": pod_template(scope, release),
    }
    replicas = desired_replicas(scope)
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": service_metadata(scope, scope.names.base),
        "spec": dict(sorted(spec.items())),
    }


def cronjob(scope: ServiceScope, release: Release) -> dict[str, Any]:
    """The CronJob of a cron service: never overlapping, suspended while paused."""
    service = scope.service
    assert service.cron is not None  # a cron service always has a schedule
    template = pod_template(scope, release)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": service_metadata(scope, scope.names.cronjob),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": CRON_FAILED_HISTORY,
            "jobTemplate": {
                "metadata": {"labels": dict(template["metadata"]["labels"])},
                "spec": {"backoffLimit": CRON_BACKOFF_LIMIT, "template": template},
            },
            "schedule": service.cron.schedule,
            "startingDeadlineSeconds": CRON_STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": CRON_SUCCESSFUL_HISTORY,
            "suspend": service.state is RunState.PAUSED,
            "timeZone": service.cron.time_zone,
        },
    }
