"""Health: kstatus/Argo CD-like object status, and per-service summaries judged against desire."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from starform_core.health import (
    ObjectStatus,
    ServiceStatus,
    assess_object,
    assess_service,
    assess_services,
)
from starform_core.kube.labels import LABEL_MANAGED_BY, LABEL_SERVICE_ID, LABEL_SERVICE_NAME
from starform_core.kube.objects import key_of

NS = "ns"


def _meta(name: str, service: str, **extra: Any) -> dict[str, Any]:
    labels = {LABEL_SERVICE_ID: service, LABEL_SERVICE_NAME: f"{service}-name", LABEL_MANAGED_BY: "shuttle"}
    return {"name": name, "namespace": NS, "labels": labels, **extra}


def _deployment(
    replicas: int = 2,
    *,
    ready: int | None = None,
    updated: int | None = None,
    total: int | None = None,
    generation: int = 3,
    observed: int = 3,
    conditions: list[dict[str, str]] | None = None,
    paused: bool = False,
    service: str = "svc",
) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    spec: dict[str, Any] = {"replicas": replicas}
    if paused:
        spec["paused"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta("web", service, generation=generation),
        "spec": spec,
        "status": {
            "observedGeneration": observed,
            "replicas": replicas if total is None else total,
            "updatedReplicas": replicas if updated is None else updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions or [],
        },
    }


def _container(
    state: dict[str, Any], *, restarts: int = 0, ready: bool = True, last: Any = None
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "state": state, "restartCount": restarts, "ready": ready}
    if last is not None:
        container["lastState"] = last
    return container


def _pod(
    container: dict[str, Any] | None = None,
    *,
    phase: str = "Running",
    ready: bool = True,
    service: str = "svc",
    name: str = "web-1",
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    meta = _meta(name, service)
    if owner:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [container or _container({"running": {}})],
        },
    }


def _waiting(reason: str, *, service: str = "svc") -> dict[str, Any]:
    return _pod(_container({"waiting": {"reason": reason}}, ready=False), ready=False, service=service)


_CRASH = {"terminated": {"reason": "Error", "exitCode": 1}}
_CRASH_LOOP_PHASES = {
    "terminated": _container(_CRASH, restarts=3, ready=False),
    "back-off": _container({"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3, ready=False, last=_CRASH),
    "running again": _container({"running": {}}, restarts=4, ready=False, last=_CRASH),
}


def _cronjob(
    *, suspend: bool = False, scheduled: str | None = None, succeeded: str | None = None, active: bool = False
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if scheduled:
        status["lastScheduleTime"] = scheduled
    if succeeded:
        status["lastSuccessfulTime"] = succeeded
    if active:
        status["active"] = [{"kind": "Job", "name": "nightly-3"}]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta("nightly", "cron", uid="cron-uid"),
        "spec": {"suspend": suspend, "schedule": "0 3 * * *"},
        "status": status,
    }


def _job(name: str, created: str, condition: str | None, *, suspend: bool = False) -> dict[str, Any]:
    conditions = (
        [{"type": condition, "status": "True", "reason": "BackoffLimitExceeded"}] if condition else []
    )
    meta = _meta(name, "cron", uid=f"{name}-uid", creationTimestamp=created)
    meta["ownerReferences"] = [{"kind": "CronJob", "name": "nightly", "uid": "cron-uid", "controller": True}]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"suspend": suspend},
        "status": {"conditions": conditions},
    }


def _hpa(*conditions: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta("web", "svc"),
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 4},
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 2,
            "conditions": [{"type": t, "status": s, "reason": r} for t, s, r in conditions],
        },
    }


_HEALTHY_HPA = (
    ("AbleToScale", "True", "ReadyForNewScale"),
    ("ScalingActive", "True", "ValidMetricFound"),
    ("ScalingLimited", "False", "DesiredWithinRange"),
)

OBJECT_CASES: list[tuple[str, dict[str, Any], dict[str, Any], ObjectStatus, str]] = [
    ("deployment rolled out", _deployment(), {}, ObjectStatus.CURRENT, "2 of 2 replicas available"),
    ("generation not observed", _deployment(observed=2), {}, ObjectStatus.IN_PROGRESS, "generation 3"),
    ("replicas not updated", _deployment(updated=1), {}, ObjectStatus.IN_PROGRESS, "1 of 2 replicas updated"),
    ("old replicas left", _deployment(total=3), {}, ObjectStatus.IN_PROGRESS, "1 old replicas"),
    ("replicas not ready", _deployment(ready=1), {}, ObjectStatus.IN_PROGRESS, "1 of 2 replicas available"),
    (
        "progress deadline exceeded",
        _deployment(
            updated=1,
            conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
        ),
        {},
        ObjectStatus.FAILED,
        "progress deadline exceeded",
    ),
    ("rollout paused", _deployment(updated=1, paused=True), {}, ObjectStatus.SUSPENDED, "rollout paused"),
    ("scaled to zero", _deployment(0), {}, ObjectStatus.CURRENT, "scaled to zero"),
    (
        "pods pull no image",
        _deployment(ready=0),
        {"pods": [_waiting("ImagePullBackOff")]},
        ObjectStatus.FAILED,
        "ImagePullBackOff",
    ),
    ("pod running and ready", _pod(), {}, ObjectStatus.CURRENT, "running and ready"),
    (
        "pod starting",
        _pod(_container({"running": {}}, ready=False), ready=False),
        {},
        ObjectStatus.IN_PROGRESS,
        "pod running",
    ),
    (
        "pod bad config",
        _waiting("CreateContainerConfigError"),
        {},
        ObjectStatus.FAILED,
        "CreateContainerConfigError",
    ),
    ("pod failed", _pod(phase="Failed", ready=False), {}, ObjectStatus.FAILED, "pod failed"),
    ("pod succeeded", _pod(phase="Succeeded", ready=False), {}, ObjectStatus.CURRENT, "pod succeeded"),
    *(
        (
            f"pod crash-looping, {phase}",
            _pod(container, ready=False),
            {},
            ObjectStatus.FAILED,
            "crash-looping (Error, exit code 1",
        )
        for phase, container in _CRASH_LOOP_PHASES.items()
    ),
    ("job complete", _job("j", "2026-01-01T00:00:00Z", "Complete"), {}, ObjectStatus.CURRENT, "job complete"),
    (
        "job failed",
        _job("j", "2026-01-01T00:00:00Z", "Failed"),
        {},
        ObjectStatus.FAILED,
        "BackoffLimitExceeded",
    ),
    (
        "job suspended",
        _job("j", "2026-01-01T00:00:00Z", None, suspend=True),
        {},
        ObjectStatus.SUSPENDED,
        "job suspended",
    ),
    ("job running", _job("j", "2026-01-01T00:00:00Z", None), {}, ObjectStatus.IN_PROGRESS, "job running"),
    ("cron suspended", _cronjob(suspend=True), {}, ObjectStatus.SUSPENDED, "suspended"),
    ("cron never scheduled", _cronjob(), {}, ObjectStatus.CURRENT, "not scheduled yet"),
    (
        "cron last run succeeded",
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-02T03:00:41Z"),
        {},
        ObjectStatus.CURRENT,
        "last run succeeded at 2026-01-02T03:00:41Z",
    ),
    (
        "cron last success older than last schedule",
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-01T03:00:41Z"),
        {},
        ObjectStatus.FAILED,
        "did not succeed (last success at 2026-01-01T03:00:41Z)",
    ),
    (
        "cron never succeeded",
        _cronjob(scheduled="2026-01-02T03:00:00Z"),
        {},
        ObjectStatus.FAILED,
        "never succeeded",
    ),
    (
        "cron newest run failed",
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-01T03:00:41Z"),
        {
            "jobs": [
                _job("nightly-1", "2026-01-01T03:00:00Z", "Complete"),
                _job("nightly-2", "2026-01-02T03:00:00Z", "Failed"),
            ]
        },
        ObjectStatus.FAILED,
        "last run nightly-2: job failed",
    ),
    (
        "cron succeeded after an older failed run",
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-02T03:00:41Z"),
        {
            "jobs": [
                _job("nightly-1", "2026-01-01T03:00:00Z", "Failed"),
                _job("nightly-2", "2026-01-02T03:00:00Z", "Complete"),
            ]
        },
        ObjectStatus.CURRENT,
        "last run succeeded",
    ),
    (
        "cron run in progress",
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-01T03:00:41Z", active=True),
        {"jobs": [_job("nightly-3", "2026-01-02T03:00:00Z", None)]},
        ObjectStatus.CURRENT,
        "running nightly-3",
    ),
    ("autoscaler not assessed yet", _hpa(), {}, ObjectStatus.IN_PROGRESS, "first assessment"),
    ("autoscaler healthy", _hpa(*_HEALTHY_HPA), {}, ObjectStatus.CURRENT, "2 replicas"),
    (
        "autoscaler unable to scale",
        _hpa(("AbleToScale", "False", "FailedGetScale"), ("ScalingActive", "True", "ValidMetricFound")),
        {},
        ObjectStatus.FAILED,
        "AbleToScale=False: FailedGetScale",
    ),
    (
        "autoscaler without metrics",
        _hpa(
            ("AbleToScale", "True", "SucceededGetScale"),
            ("ScalingActive", "False", "FailedGetResourceMetric"),
        ),
        {},
        ObjectStatus.FAILED,
        "ScalingActive=False: FailedGetResourceMetric",
    ),
    (
        "autoscaler of a target scaled to zero",
        _hpa(("AbleToScale", "True", "SucceededGetScale"), ("ScalingActive", "False", "ScalingDisabled")),
        {},
        ObjectStatus.CURRENT,
        "scaling disabled",
    ),
    (
        "claim pending",
        {"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}},
        {},
        ObjectStatus.IN_PROGRESS,
        "waiting",
    ),
    (
        "claim bound",
        {"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}},
        {},
        ObjectStatus.CURRENT,
        "bound",
    ),
    (
        "claim lost",
        {"kind": "PersistentVolumeClaim", "status": {"phase": "Lost"}},
        {},
        ObjectStatus.FAILED,
        "lost",
    ),
    (
        "load balancer pending",
        {"kind": "Service", "spec": {"type": "LoadBalancer"}},
        {},
        ObjectStatus.IN_PROGRESS,
        "address",
    ),
    (
        "route rejected",
        {
            "kind": "HTTPRoute",
            "status": {
                "parents": [
                    {
                        "conditions": [
                            {"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners"}
                        ]
                    }
                ]
            },
        },
        {},
        ObjectStatus.FAILED,
        "NotAllowedByListeners",
    ),
    ("route not accepted yet", {"kind": "HTTPRoute", "status": {}}, {}, ObjectStatus.IN_PROGRESS, "gateway"),
    ("any other kind", {"kind": "ConfigMap"}, {}, ObjectStatus.CURRENT, "ready"),
    (
        "terminating",
        {"kind": "ConfigMap", "metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}},
        {},
        ObjectStatus.TERMINATING,
        "deleting since",
    ),
]


@pytest.mark.parametrize(
    ("obj", "children", "status", "reason"),
    [case[1:] for case in OBJECT_CASES],
    ids=[case[0] for case in OBJECT_CASES],
)
def test_each_object_state(
    obj: dict[str, Any], children: dict[str, Any], status: ObjectStatus, reason: str
) -> None:
    health = assess_object(obj, **children)
    assert health.status is status, health
    assert reason in health.reason, health


def test_a_crash_looping_pod_does_not_flip_its_service_between_states() -> None:
    seen = set()
    for container in _CRASH_LOOP_PHASES.values():
        service = assess_service([_deployment(1, ready=0), _pod(container, ready=False)])
        seen.add((service.status, service.reason.split("(")[0]))
    assert seen == {(ServiceStatus.ERROR, "Deployment.apps ns/web: pod web-1: container app: crash-looping ")}


def test_a_cron_service_whose_newest_run_succeeded_is_healthy_despite_an_old_failed_job() -> None:
    old_pod = _pod(
        _container({"terminated": {"reason": "Error", "exitCode": 2}}, restarts=0, ready=False),
        phase="Failed",
        ready=False,
        service="cron",
        name="nightly-1-abcde",
        owner={"kind": "Job", "name": "nightly-1", "uid": "nightly-1-uid", "controller": True},
    )
    objects = [
        _cronjob(scheduled="2026-01-02T03:00:00Z", succeeded="2026-01-02T03:00:41Z"),
        _job("nightly-1", "2026-01-01T03:00:00Z", "Failed"),
        old_pod,
        _job("nightly-2", "2026-01-02T03:00:00Z", "Complete"),
    ]
    health = assess_service(objects)
    assert health.status is ServiceStatus.HEALTHY, health.reason
    newest_fails = [*objects[:3], _job("nightly-2", "2026-01-02T03:00:00Z", "Failed")]
    assert assess_service(newest_fails).status is ServiceStatus.DEGRADED


SERVICE_CASES: list[tuple[str, list[dict[str, Any]], ServiceStatus, str]] = [
    ("healthy", [_deployment()], ServiceStatus.HEALTHY, "all objects current"),
    ("error", [_deployment(ready=0), _waiting("ImagePullBackOff")], ServiceStatus.ERROR, "ImagePullBackOff"),
    (
        "degraded",
        [_deployment(ready=1), _waiting("CrashLoopBackOff")],
        ServiceStatus.DEGRADED,
        "CrashLoopBackOff",
    ),
    (
        "degraded autoscaler",
        [_deployment(), _hpa(("AbleToScale", "False", "FailedUpdateScale"))],
        ServiceStatus.DEGRADED,
        "AbleToScale=False",
    ),
    ("progressing", [_deployment(updated=1)], ServiceStatus.PROGRESSING, "1 of 2 replicas updated"),
    ("paused rollout", [_deployment(updated=1, paused=True)], ServiceStatus.PAUSED, "rollout paused"),
    ("scaled to zero", [_deployment(0)], ServiceStatus.PAUSED, "scaled to zero"),
    ("suspended cron", [_cronjob(suspend=True)], ServiceStatus.PAUSED, "suspended"),
    (
        "cron whose last run failed",
        [_cronjob(scheduled="2026-01-02T03:00:00Z")],
        ServiceStatus.DEGRADED,
        "did not succeed",
    ),
]


@pytest.mark.parametrize(
    ("objects", "status", "reason"),
    [case[1:] for case in SERVICE_CASES],
    ids=[case[0] for case in SERVICE_CASES],
)
def test_each_service_state(objects: list[dict[str, Any]], status: ServiceStatus, reason: str) -> None:
    health = assess_service(objects)
    assert health.status is status, health.reason
    assert reason in health.reason


def test_a_desired_object_that_is_not_live_makes_its_service_missing_and_names_it() -> None:
    desired = [_deployment(), _hpa(*_HEALTHY_HPA)]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web", "svc"), "spec": {}}
    desired.append(service)
    assert assess_services(desired, desired=desired)["svc"].status is ServiceStatus.HEALTHY
    health = assess_services([desired[1], desired[2]], desired=desired)["svc"]
    assert health.status is ServiceStatus.MISSING
    assert health.reason == "Deployment.apps ns/web is missing (not in the cluster)"
    assert health.missing == (key_of(desired[0]),)
    assert health.name == "svc-name"
    nothing = assess_services([], desired=desired)["svc"]
    assert nothing.status is ServiceStatus.MISSING
    assert nothing.reason.startswith("3 desired objects are missing: ")


def test_a_stranger_in_the_way_is_not_the_desired_object() -> None:
    desired = [_deployment()]
    stranger = copy.deepcopy(desired[0])
    stranger["metadata"]["labels"] = {LABEL_MANAGED_BY: "helm"}
    health = assess_services([stranger], desired=desired)["svc"]
    assert health.status is ServiceStatus.MISSING
    assert "taken by an object Shuttle does not own" in health.reason


def test_a_relabelled_live_object_still_counts_for_the_service_that_desires_it() -> None:
    desired = [_deployment()]
    live = copy.deepcopy(desired[0])
    live["metadata"]["labels"][LABEL_SERVICE_ID] = "someone-else"
    health = assess_services([live], desired=desired)
    assert set(health) == {"svc"}
    assert health["svc"].status is ServiceStatus.HEALTHY


def test_failures_outrank_missing_objects_and_missing_outranks_progress() -> None:
    desired = [_deployment(), {"apiVersion": "v1", "kind": "Service", "metadata": _meta("web", "svc")}]
    assert assess_services([_deployment(updated=1)], desired=desired)["svc"].status is ServiceStatus.MISSING
    broken = [_deployment(ready=0), _waiting("ErrImagePull")]
    assert assess_services(broken, desired=desired)["svc"].status is ServiceStatus.ERROR


def test_without_desired_objects_only_the_live_ones_are_judged() -> None:
    live = [
        _deployment(service="healthy"),
        _deployment(ready=0, service="broken"),
        _waiting("ImagePullBackOff", service="broken"),
        {"kind": "Namespace", "metadata": {"name": "ns"}},
    ]
    health = assess_services(live)
    assert {sid: h.status for sid, h in health.items()} == {
        "broken": ServiceStatus.ERROR,
        "healthy": ServiceStatus.HEALTHY,
    }
    assert list(health) == sorted(health)
    assert health["healthy"].name == "healthy-name"
