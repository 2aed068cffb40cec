"""Convert between pydantic bodies and core rows (the edge of the apps layer)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from starform_apps.starbase import schemas as s
from starform_core.errors import ValidationError
from starform_core.model.workload import Autoscaling, Probe, Probes
from starform_core.payload.codec import converter
from starform_core.payload.rows import (
    ClusterRow,
    DeploymentRow,
    EnvironmentRow,
    ProjectRow,
    ServiceRow,
    VarGroupRow,
    VolumeRow,
)
from starform_core.records import EventRecord, ObservedStatus, VarKeyInfo
from starform_core.reporting import AgentState

__all__ = [
    "agent_view",
    "autoscaling_of",
    "cluster_out",
    "deployment_out",
    "environment_out",
    "event_out",
    "probes_of",
    "project_out",
    "service_out",
    "status_out",
    "strip_row_prefix",
    "under_body_names",
    "var_group_out",
    "volume_out",
]

T = TypeVar("T")
_ROW_PREFIX = re.compile(r"^(payload\.)?(projects\[[^\]]*\]\.)?[a-z_]+\[[^\]]*\]\.")


def _fields_under(prefix: str, make: Callable[[], T]) -> T:
    """Run a core constructor; prefix the field of any ``ValidationError`` it raises."""
    try:
        return make()
    except ValidationError as exc:
        raise ValidationError(f"{prefix}.{exc.field}", exc.reason) from exc


def strip_row_prefix(exc: ValidationError) -> ValidationError:
    """Turn ``services[<id>].port`` (the store's whole-project check) into ``port``."""
    return ValidationError(_ROW_PREFIX.sub("", exc.field), exc.reason)


def under_body_names(write: Callable[[], T]) -> T:
    """Run a store write; name fields as the request body does (``port``, not ``services[..].port``)."""
    try:
        return write()
    except ValidationError as exc:
        raise strip_row_prefix(exc) from exc


def autoscaling_of(body: s.AutoscalingBody | None) -> Autoscaling | None:
    """The core autoscaling value."""
    if body is None:
        return None
    return _fields_under("autoscaling", lambda: Autoscaling(**body.model_dump()))


def _probe(name: str, body: s.ProbeBody | None) -> Probe | None:
    if body is None:
        return None
    return _fields_under(f"probes.{name}", lambda: Probe(**body.model_dump()))


def probes_of(body: s.ProbesBody) -> Probes:
    """The core probes value."""
    return Probes(
        startup=_probe("startup", body.startup),
        liveness=_probe("liveness", body.liveness),
        readiness=_probe("readiness", body.readiness),
    )


def project_out(row: ProjectRow) -> s.ProjectOut:
    """A project body."""
    return s.ProjectOut(
        id=row.project_id,  # type: ignore[arg-type]
        workspace_id=row.workspace_id,  # type: ignore[arg-type]
        cluster_id=row.cluster_id,  # type: ignore[arg-type]
        name=row.name,
        tier=row.tier,
    )


def environment_out(row: EnvironmentRow) -> s.EnvironmentOut:
    """An environment body."""
    return s.EnvironmentOut(
        id=row.environment_id,  # type: ignore[arg-type]
        project_id=row.project_id,  # type: ignore[arg-type]
        name=row.name,
        is_ephemeral=row.is_ephemeral,
        protected=row.protected,
    )


def deployment_out(row: DeploymentRow) -> s.DeploymentOut:
    """A deployment body."""
    return s.DeploymentOut(
        id=row.deployment_id,  # type: ignore[arg-type]
        service_id=row.service_id,  # type: ignore[arg-type]
        version=row.version,
        image=row.image,
        command=None if row.command is None else list(row.command),
        args=None if row.args is None else list(row.args),
    )


def volume_out(row: VolumeRow) -> s.VolumeOut:
    """A volume body."""
    return s.VolumeOut(
        id=row.volume_id,  # type: ignore[arg-type]
        service_id=row.service_id,  # type: ignore[arg-type]
        name=row.name,
        mount_path=row.mount_path,
        size=row.size,
        access_mode=row.access_mode,
    )


def service_out(row: ServiceRow, **extra: Any) -> s.ServiceOut:
    """A service body (``extra``: release, hostnames, volumes, var_groups)."""
    data = attrs.asdict(row, recurse=False)
    data["id"] = data.pop("service_id")
    data["autoscaling"] = None if row.autoscaling is None else converter.unstructure(row.autoscaling)
    data["probes"] = converter.unstructure(row.probes)
    data["drift_ignore_fields"] = list(row.drift_ignore_fields)
    return s.ServiceOut.model_validate({**data, **extra})


def var_group_out(row: VarGroupRow, keys: list[VarKeyInfo]) -> s.VarGroupOut:
    """A var group body: keys and metadata, never values."""
    return s.VarGroupOut(
        id=row.var_group_id,  # type: ignore[arg-type]
        project_id=row.project_id,  # type: ignore[arg-type]
        name=row.name,
        environment_id=row.environment_id,  # type: ignore[arg-type]
        keys=[s.VarKeyOut(key=k.key, key_id=k.key_id, updated_at=k.updated_at) for k in keys],
    )


def cluster_out(row: ClusterRow, **extra: Any) -> s.ClusterOut:
    """A cluster body (never its token)."""
    data = attrs.asdict(row, recurse=False)
    data["id"] = data.pop("cluster_id")
    return s.ClusterOut.model_validate({**data, **extra})


def agent_view(state: AgentState) -> dict[str, Any]:
    """The cluster view's agent fields: the last attempt (applied? how much held, failed) and refusals."""
    counts = {str(k): int(v) for k, v in (state.attempt.get("counts") or {}).items()}
    agent = s.AgentOut(
        agent=state.agent,
        epoch=state.reported_epoch,
        last_attempted_generation=state.attempted_generation,
        outcome=state.outcome,
        counts=counts,
        reasons={str(k): int(v) for k, v in (state.attempt.get("reasons") or {}).items()},
        objects=list(state.attempt.get("objects") or []),
        reported_at=state.reported_at,
        rejected_payload=state.attempt.get("rejected_payload"),
        refused_reports=state.refused_reports,
        last_refused_at=state.last_refused_at,
        last_refused_reason=state.last_refused_reason,
    )
    reported = state.reported_at is not None or state.refused_reports > 0
    return {
        "last_attempted_generation": state.attempted_generation,
        "applied": None if state.outcome is None else state.outcome == "applied",
        "held": counts.get("held", 0) + counts.get("conflicts", 0),
        "failed": counts.get("failed", 0) + counts.get("skipped", 0),
        "agent": agent if reported else None,
    }


def status_out(status: ObservedStatus) -> s.StatusOut:
    """An observed-status body."""
    return s.StatusOut(
        service_id=status.service_id,  # type: ignore[arg-type]
        health=status.health,
        reason=status.reason,
        status=dict(status.status),
        generation=status.generation,
        observed_at=status.observed_at,
    )


def event_out(event: EventRecord) -> s.EventOut:
    """An event body."""
    return s.EventOut(
        seq=event.seq,
        event_id=event.event_id,
        type=event.type,
        reason=event.reason,
        message=event.message,
        service_id=event.service_id,  # type: ignore[arg-type]
        data=dict(event.data),
        occurred_at=event.occurred_at,
    )
