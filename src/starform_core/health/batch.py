"""Jobs and CronJobs, as Argo CD and kstatus judge them.

* Job: ``Failed`` condition → Failed; ``Complete`` → Current; suspended → Suspended; a failing pod
  → Failed; else InProgress.
* CronJob: suspended → Suspended. Otherwise it is judged by its newest run only (older Jobs kept
  in history do not count): a failed newest Job, or a failing pod of it → Failed; a run in
  progress → Current; never scheduled → Current; ``status.lastSuccessfulTime`` at or after
  ``status.lastScheduleTime`` → Current; else the last scheduled run did not succeed → Failed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

from starform_core.health.pods import condition, pods_failure
from starform_core.health.status import ObjectHealth, ObjectStatus
from starform_core.kube.objects import KubeObject

__all__ = ["assess_cronjob", "assess_job", "newest_job", "timestamp"]


def timestamp(value: Any) -> _dt.datetime | None:
    """An RFC 3339 API timestamp (or a datetime a YAML loader made of one), in UTC."""
    if isinstance(value, _dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def _is_true(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    found = condition(obj, kind)
    return found if found is not None and found.get("status") == "True" else None


def assess_job(obj: KubeObject, pods: Iterable[KubeObject] = ()) -> ObjectHealth:
    """One Job (``pods``: its pods, if known)."""
    failed = _is_true(obj, "Failed")
    if failed:
        return ObjectHealth(ObjectStatus.FAILED, f"job failed: {failed.get('reason') or 'unknown'}")
    if _is_true(obj, "Complete"):
        return ObjectHealth(ObjectStatus.CURRENT, "job complete")
    if (obj.get("spec") or {}).get("suspend") is True or _is_true(obj, "Suspended"):
        return ObjectHealth(ObjectStatus.SUSPENDED, "job suspended")
    return pods_failure(pods) or ObjectHealth(ObjectStatus.IN_PROGRESS, "job running")


def _created(job: KubeObject) -> tuple[_dt.datetime, str]:
    metadata = job.get("metadata") or {}
    status = job.get("status") or {}
    moment = timestamp(metadata.get("creationTimestamp")) or timestamp(status.get("startTime"))
    return (moment or _dt.datetime.min.replace(tzinfo=_dt.UTC), str(metadata.get("name", "")))


def newest_job(jobs: Iterable[KubeObject]) -> KubeObject | None:
    """The most recently created Job of ``jobs`` (ties broken by name), if any."""
    return max(jobs, key=_created, default=None)


def _pods_of(job: KubeObject, pods: Iterable[KubeObject]) -> list[KubeObject]:
    uid = (job.get("metadata") or {}).get("uid")
    name = (job.get("metadata") or {}).get("name")
    mine = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        references = metadata.get("ownerReferences") or ()
        owned = any(
            isinstance(r, Mapping) and (r.get("uid") == uid or r.get("name") == name) for r in references
        )
        if owned or (metadata.get("labels") or {}).get("job-name") == name:
            mine.append(pod)
    return mine


def assess_cronjob(
    obj: KubeObject, pods: Iterable[KubeObject] = (), jobs: Iterable[KubeObject] = ()
) -> ObjectHealth:
    """One CronJob, by its newest run (``jobs``: its Jobs; ``pods``: their pods, if known)."""
    if (obj.get("spec") or {}).get("suspend") is True:
        return ObjectHealth(ObjectStatus.SUSPENDED, "suspended")
    status = obj.get("status") or {}
    newest = newest_job(jobs)
    if newest is not None:
        run = assess_job(newest, _pods_of(newest, pods))
        name = (newest.get("metadata") or {}).get("name")
        if run.status is ObjectStatus.FAILED:
            return ObjectHealth(ObjectStatus.FAILED, f"last run {name}: {run.reason}")
        if run.status is ObjectStatus.IN_PROGRESS:
            return ObjectHealth(ObjectStatus.CURRENT, f"running {name}")
    if status.get("active"):
        return ObjectHealth(ObjectStatus.CURRENT, "a run is in progress")
    scheduled = timestamp(status.get("lastScheduleTime"))
    if scheduled is None:
        return ObjectHealth(ObjectStatus.CURRENT, "not scheduled yet")
    succeeded = timestamp(status.get("lastSuccessfulTime"))
    if succeeded is not None and succeeded >= scheduled:
        return ObjectHealth(ObjectStatus.CURRENT, f"last run succeeded at {status['lastSuccessfulTime']}")
    if newest is not None and _is_true(newest, "Complete") and _created(newest)[0] >= scheduled:
        return ObjectHealth(ObjectStatus.CURRENT, f"last run {newest['metadata'].get('name')} complete")
    since = f"last success at {status['lastSuccessfulTime']}" if succeeded else "never succeeded"
    return ObjectHealth(
        ObjectStatus.FAILED, f"the run scheduled at {status['lastScheduleTime']} did not succeed ({since})"
    )
