"""Services and what hangs off them: hostnames, volumes and var group attachments."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import attrs
from fastapi import APIRouter, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, authorize_project
from starform_apps.starbase.capacity import room_for_hostname, room_for_service, room_for_volume
from starform_apps.starbase.convert import (
    autoscaling_of,
    deployment_out,
    probes_of,
    service_out,
    under_body_names,
    volume_out,
)
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import ReleasesDep, ServicesDep, TenancyDep, VarGroupsDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.service_access import ServiceAccessDep
from starform_apps.starbase.tier_checks import service_fits_tier, volumes_fit_tier
from starform_core.errors import ValidationError
from starform_core.payload.rows import HostnameRow, ServiceRow, ServiceVarGroupRow, VolumeRow
from starform_core.ports import VarGroupStore

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)


def _spec(data: dict[str, Any]) -> dict[str, Any]:
    """Core values for a (partial) service spec from request data."""
    out = dict(data)
    if "autoscaling" in out:
        out["autoscaling"] = autoscaling_of(
            None if out["autoscaling"] is None else s.AutoscalingBody(**out["autoscaling"])
        )
    if "probes" in out:
        out["probes"] = probes_of(s.ProbesBody(**(out["probes"] or {})))
    if "drift_ignore_fields" in out:
        out["drift_ignore_fields"] = tuple(out["drift_ignore_fields"] or ())
    return out


def _attachments(var_groups: VarGroupStore, service_id: str) -> list[s.AttachmentOut]:
    return [
        s.AttachmentOut(var_group_id=a.var_group_id, attach_order=a.attach_order)  # type: ignore[arg-type]
        for a in var_groups.list_attachments(service_id)
    ]


@router.post("/projects/{project_id}/services", status_code=201, response_model=s.ServiceOut)
def create_service(
    project_id: UUID, body: s.ServiceIn, user: CurrentUser, tenancy: TenancyDep, services: ServicesDep
) -> s.ServiceOut:
    """Create a service (project Developer and up)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.SERVICE_WRITE)
    room_for_service(services, project.project_id)
    data = _spec(body.model_dump())
    data["environment_id"] = str(data["environment_id"])
    row = ServiceRow(service_id=str(uuid.uuid4()), project_id=project.project_id, **data)
    service_fits_tier(project.tier, row)
    return service_out(under_body_names(lambda: services.create_service(row, actor=actor_of(user))))


@router.get("/services/{service_id}", response_model=s.ServiceOut)
def get_service(
    service_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    releases: ReleasesDep,
    var_groups: VarGroupsDep,
) -> s.ServiceOut:
    """A service's desired spec with its current release, hostnames, volumes and var groups."""
    service = access.authorized(user, service_id, Action.PROJECT_READ)
    release = releases.current_release(service.service_id)
    return service_out(
        service,
        release=None if release is None else deployment_out(release),
        hostnames=access.services.list_hostnames(service.service_id),
        volumes=[volume_out(v) for v in access.services.list_volumes(service.service_id)],
        var_groups=_attachments(var_groups, service.service_id),
    )


@router.patch("/services/{service_id}", response_model=s.ServiceOut)
def update_service(
    service_id: UUID, body: s.ServicePatch, user: CurrentUser, access: ServiceAccessDep
) -> s.ServiceOut:
    """Change a service's spec (project Developer and up); its container must fit the project's tier."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    changes = _spec(body.model_dump(exclude_unset=True))
    for required in ("name", "type", "state", "cpu_request", "memory_request", "public", "adoption_policy"):
        if required in changes and changes[required] is None:
            raise ValidationError(required, "cannot be null")
    updated = attrs.evolve(service, **changes)
    service_fits_tier(access.tenancy.get_project(service.project_id).tier, updated)
    return service_out(
        under_body_names(lambda: access.services.update_service(updated, actor=actor_of(user)))
    )


@router.delete("/services/{service_id}", status_code=204, response_class=Response)
def delete_service(service_id: UUID, user: CurrentUser, access: ServiceAccessDep) -> Response:
    """Delete a service (project Developer and up)."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    access.services.delete_service(service.service_id, actor=actor_of(user))
    return Response(status_code=204)


@router.post("/services/{service_id}/hostnames", status_code=201, response_model=list[str])
def add_hostname(
    service_id: UUID, body: s.HostnameIn, user: CurrentUser, access: ServiceAccessDep
) -> list[str]:
    """Route a hostname (unique across Starform) to a web service; returns all its hostnames."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    room_for_hostname(access.services, service.service_id)
    row = HostnameRow(service_id=service.service_id, hostname=body.hostname)
    under_body_names(lambda: access.services.add_hostname(row, actor=actor_of(user)))
    return access.services.list_hostnames(service.service_id)


@router.delete("/services/{service_id}/hostnames/{hostname}", status_code=204, response_class=Response)
def delete_hostname(service_id: UUID, hostname: str, user: CurrentUser, access: ServiceAccessDep) -> Response:
    """Stop routing a hostname to the service."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    access.services.delete_hostname(service.service_id, hostname, actor=actor_of(user))
    return Response(status_code=204)


@router.post("/services/{service_id}/volumes", status_code=201, response_model=s.VolumeOut)
def add_volume(
    service_id: UUID, body: s.VolumeIn, user: CurrentUser, access: ServiceAccessDep
) -> s.VolumeOut:
    """Add a persistent volume to the service (within the tier's per-volume cap and claim quota)."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    room_for_volume(access.services, service.service_id)
    row = VolumeRow(volume_id=str(uuid.uuid4()), service_id=service.service_id, **body.model_dump())
    project = access.tenancy.get_project(service.project_id)
    volumes_fit_tier(project.tier, access.services, service, [row], field="size")
    return volume_out(under_body_names(lambda: access.services.add_volume(row, actor=actor_of(user))))


@router.delete("/volumes/{volume_id}", status_code=204, response_class=Response)
def delete_volume(volume_id: UUID, user: CurrentUser, access: ServiceAccessDep) -> Response:
    """Remove a volume from its service."""
    volume = access.services.get_volume(str(volume_id))
    access.authorized(user, volume.service_id, Action.SERVICE_WRITE, what="volume")
    access.services.delete_volume(volume.volume_id, actor=actor_of(user))
    return Response(status_code=204)


@router.put("/services/{service_id}/var-groups/{var_group_id}", response_model=list[s.AttachmentOut])
def attach_var_group(
    service_id: UUID,
    var_group_id: UUID,
    body: s.AttachIn,
    user: CurrentUser,
    access: ServiceAccessDep,
    var_groups: VarGroupsDep,
) -> list[s.AttachmentOut]:
    """Attach a var group at an order (or change its order); returns all attachments."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    link = ServiceVarGroupRow(
        service_id=service.service_id,
        var_group_id=str(var_group_id),
        attach_order=body.attach_order,
    )
    under_body_names(lambda: var_groups.attach_var_group(link, actor=actor_of(user)))
    return _attachments(var_groups, service.service_id)


@router.delete("/services/{service_id}/var-groups/{var_group_id}", status_code=204, response_class=Response)
def detach_var_group(
    service_id: UUID,
    var_group_id: UUID,
    user: CurrentUser,
    access: ServiceAccessDep,
    var_groups: VarGroupsDep,
) -> Response:
    """Detach a var group from the service."""
    service = access.authorized(user, service_id, Action.SERVICE_WRITE)
    var_groups.detach_var_group(service.service_id, str(var_group_id), actor=actor_of(user))
    return Response(status_code=204)
