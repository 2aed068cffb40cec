"""The rendered fields adoption covers, and the service spec field each one comes from.

Only fields that map one-to-one onto a spec field are adoptable, and none of them can hold a
secret: replica counts, the container's resource requests and limits, the autoscaler's bounds,
a cron job's schedule and time zone. Drift on any other field (an image, an env var, a label, a
field added out of band) has no desired field to go to and is reverted even under ``adopt``.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = ["ADOPTABLE", "AdoptableField", "adoptable_field", "is_adoptable"]

_CONTAINER: Final = "/spec/template/spec/containers/0/resources"
_JOB_CONTAINER: Final = "/spec/jobTemplate/spec/template/spec/containers/0/resources"


def _resources(prefix: str) -> dict[str, str]:
    return {
        f"{prefix}/requests/cpu": "/resources/cpu_request",
        f"{prefix}/requests/memory": "/resources/memory_request",
        f"{prefix}/limits/cpu": "/resources/cpu_limit",
        f"{prefix}/limits/memory": "/resources/memory_limit",
    }


@attrs.frozen
class AdoptableField:
    """A rendered field (``kind`` and JSON pointer) and the spec field (JSON pointer) it renders."""

    kind: str
    pointer: str
    spec_pointer: str

    @property
    def rule(self) -> str:
        """The ``Kind:/json/pointer`` form (as ``drift.ignore_fields`` and ``drift.revert`` write it)."""
        return f"{self.kind}:{self.pointer}"


ADOPTABLE: Final[dict[tuple[str, str], AdoptableField]] = {
    (kind, pointer): AdoptableField(kind, pointer, spec)
    for kind, fields in {
        "Deployment": {"/spec/replicas": "/replicas", **_resources(_CONTAINER)},
        "CronJob": {
            "/spec/schedule": "/cron/schedule",
            "/spec/timeZone": "/cron/time_zone",
            **_resources(_JOB_CONTAINER),
        },
        "HorizontalPodAutoscaler": {
            "/spec/minReplicas": "/autoscaling/min_replicas",
            "/spec/maxReplicas": "/autoscaling/max_replicas",
        },
    }.items()
    for pointer, spec in fields.items()
}
"""Every adoptable field by ``(kind, pointer)``."""


def adoptable_field(kind: str, pointer: str) -> AdoptableField | None:
    """The adoptable field at ``pointer`` of an object of ``kind`` (``None``: not adoptable)."""
    return ADOPTABLE.get((kind, pointer))


def is_adoptable(kind: str, pointer: str) -> bool:
    """True when drift at ``pointer`` of an object of ``kind`` can be adopted."""
    return (kind, pointer) in ADOPTABLE
