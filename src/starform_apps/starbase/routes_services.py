"""Services, deployments (deploy and rollback), hostnames, volumes, attachments, status, events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

import attrs
from fastapi import APIRouter, Depends, Query, Request, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import Caller, CurrentUser, actor_of, authorize_project, store_of
from starform_apps.starbase.capacity import room_for_hostname, room_for_service, room_for_volume
from starform_apps.starbase.convert import (
    autoscaling_of,
    deployment_out,
    event_out,
    probes_of,
    service_out,
    status_out,
    strip_row_prefix,
    volume_out,
)
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action
from starform_core.errors import ValidationError
from starform_core.model.workload import Release
from starform_core.payload.rows import (
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    ServiceRow,
    ServiceVarGroupRow,
    VolumeRow,
)
from starform_core.ports.store import NewDeployment, Store

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["services"], responses=ERROR_RESPONSES)
StoreDep = Annotated[Store, Depends(store_of)]
T = TypeVar("T")


def _clean(write: Callable[[], T]) -> T:
    """Run a store write; name fields as the request body does (``port``, not ``services[..].port``)."""
    try:
        return write()
    except ValidationError as exc:
        raise strip_row_prefix(exc) from exc


def _service_scope(
    store: Store, user: Caller, service_id: UUID, action: Action, *, what: str = "service"
) -> tuple[ServiceRow, ProjectRow, EnvironmentRow]:
    service = store.get_service(str(service_id))
    project = store.get_project(service.project_id)
    env = store.get_environment(service.environment_id)
    authorize_project(store, user, project, action, environment=env, what=what)
    return service, project, env


def _charge_deploy(request: Request, service: ServiceRow) -> None:
    """Deploys (and rollbacks) of one service share a budget (``STARBASE_RATE_LIMIT_DEPLOY``)."""
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.DEPLOY, service.service_id)


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


@router.post("/projects/{project_id}/services", status_code=201, response_model=s.ServiceOut)
def create_service(project_id: UUID, body: s.ServiceIn, user: CurrentUser, store: StoreDep) -> s.ServiceOut:
    """Create a service (project Developer and up)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.SERVICE_WRITE)
    room_for_service(store, project.project_id)
    data = _spec(body.model_dump())
    data["environment_id"] = str(data["environment_id"])
    row = ServiceRow(service_id=str(uuid.uuid4()), project_id=project.project_id, **data)
    return service_out(_clean(lambda: store.create_service(row, actor=actor_of(user))))


@router.get("/services/{service_id}", response_model=s.ServiceOut)
def get_service(service_id: UUID, user: CurrentUser, store: StoreDep) -> s.ServiceOut:
    """A service's desired spec with its current release, hostnames, volumes and var groups."""
    service, _, _ = _service_scope(store, user, service_id, Action.PROJECT_READ)
    deployments = store.list_deployments(service.service_id)
    return service_out(
        service,
        release=deployment_out(deployments[0]) if deployments else None,
        hostnames=store.list_hostnames(service.service_id),
        volumes=[volume_out(v) for v in store.list_volumes(service.service_id)],
        var_groups=[
            s.AttachmentOut(var_group_id=a.var_group_id, attach_order=a.attach_order)  # type: ignore[arg-type]
            for a in store.list_attachments(service.service_id)
        ],
    )


@router.patch("/services/{service_id}", response_model=s.ServiceOut)
def update_service(
    service_id: UUID, body: s.ServicePatch, user: CurrentUser, store: StoreDep
) -> s.ServiceOut:
    """Change a service's spec (project Developer and up)."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    changes = _spec(body.model_dump(exclude_unset=True))
    for required in ("name", "type", "state", "cpu_request", "memory_request", "public"):
        if required in changes and changes[required] is None:
            raise ValidationError(required, "cannot be null")
    updated = attrs.evolve(service, **changes)
    return service_out(_clean(lambda: store.update_service(updated, actor=actor_of(user))))


@router.delete("/services/{service_id}", status_code=204, response_class=Response)
def delete_service(service_id: UUID, user: CurrentUser, store: StoreDep) -> Response:
    """Delete a service (project Developer and up)."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    store.delete_service(service.service_id, actor=actor_of(user))
    return Response(status_code=204)


def _deploy(
    store: Store,
    user: Caller,
    service: ServiceRow,
    image: str,
    command: tuple[str, ...] | None,
    args: tuple[str, ...] | None,
) -> s.DeploymentOut:
    Release(version=1, image=image, command=command, args=args)
    row = store.create_deployment(
        NewDeployment(
            deployment_id=str(uuid.uuid4()),
            service_id=service.service_id,
            image=image,
            command=command,
            args=args,
        ),
        actor=actor_of(user),
    )
    return deployment_out(row)


@router.post("/services/{service_id}/deployments", status_code=201, response_model=s.DeploymentOut)
def deploy(
    service_id: UUID, body: s.DeploymentIn, request: Request, user: CurrentUser, store: StoreDep
) -> s.DeploymentOut:
    """Deploy a new version (Developer; Admin when the environment is protected)."""
    service, _, _ = _service_scope(store, user, service_id, Action.DEPLOY)
    _charge_deploy(request, service)
    return _clean(
        lambda: _deploy(
            store,
            user,
            service,
            body.image,
            None if body.command is None else tuple(body.command),
            None if body.args is None else tuple(body.args),
        )
    )


@router.get("/services/{service_id}/deployments", response_model=list[s.DeploymentOut])
def list_deployments(service_id: UUID, user: CurrentUser, store: StoreDep) -> list[s.DeploymentOut]:
    """A service's deployments, newest first."""
    service, _, _ = _service_scope(store, user, service_id, Action.PROJECT_READ)
    return [deployment_out(d) for d in store.list_deployments(service.service_id)]


@router.post("/services/{service_id}/rollback", status_code=201, response_model=s.DeploymentOut)
def rollback(
    service_id: UUID, body: s.RollbackIn, request: Request, user: CurrentUser, store: StoreDep
) -> s.DeploymentOut:
    """Redeploy a previous version's image as a new version (same rules as a deploy)."""
    service, _, _ = _service_scope(store, user, service_id, Action.DEPLOY)
    _charge_deploy(request, service)
    previous = store.get_deployment(service.service_id, body.version)
    return _clean(lambda: _deploy(store, user, service, previous.image, previous.command, previous.args))


@router.post("/services/{service_id}/hostnames", status_code=201, response_model=list[str])
def add_hostname(service_id: UUID, body: s.HostnameIn, user: CurrentUser, store: StoreDep) -> list[str]:
    """Route a hostname (unique across Starform) to a web service; returns all its hostnames."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    room_for_hostname(store, service.service_id)
    _clean(
        lambda: store.add_hostname(
            HostnameRow(service_id=service.service_id, hostname=body.hostname),
            actor=actor_of(user),
        )
    )
    return store.list_hostnames(service.service_id)


@router.delete("/services/{service_id}/hostnames/{hostname}", status_code=204, response_class=Response)
def delete_hostname(service_id: UUID, hostname: str, user: CurrentUser, store: StoreDep) -> Response:
    """Stop routing a hostname to the service."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    store.delete_hostname(service.service_id, hostname, actor=actor_of(user))
    return Response(status_code=204)


@router.post("/services/{service_id}/volumes", status_code=201, response_model=s.VolumeOut)
def add_volume(service_id: UUID, body: s.VolumeIn, user: CurrentUser, store: StoreDep) -> s.VolumeOut:
    """Add a persistent volume to the service."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    room_for_volume(store, service.service_id)
    row = VolumeRow(volume_id=str(uuid.uuid4()), service_id=service.service_id, **body.model_dump())
    return volume_out(_clean(lambda: store.add_volume(row, actor=actor_of(user))))


@router.delete("/volumes/{volume_id}", status_code=204, response_class=Response)
def delete_volume(volume_id: UUID, user: CurrentUser, store: StoreDep) -> Response:
    """Remove a volume from its service."""
    volume = store.get_volume(str(volume_id))
    _service_scope(store, user, UUID(volume.service_id), Action.SERVICE_WRITE, what="volume")
    store.delete_volume(volume.volume_id, actor=actor_of(user))
    return Response(status_code=204)


@router.put("/services/{service_id}/var-groups/{var_group_id}", response_model=list[s.AttachmentOut])
def attach_var_group(
    service_id: UUID,
    var_group_id: UUID,
    body: s.AttachIn,
    user: CurrentUser,
    store: StoreDep,
) -> list[s.AttachmentOut]:
    """Attach a var group at an order (or change its order); returns all attachments."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    link = ServiceVarGroupRow(
        service_id=service.service_id,
        var_group_id=str(var_group_id),
        attach_order=body.attach_order,
    )
    _clean(lambda: store.attach_var_group(link, actor=actor_of(user)))
    return [
        s.AttachmentOut(var_group_id=a.var_group_id, attach_order=a.attach_order)  # type: ignore[arg-type]
        for a in store.list_attachments(service.service_id)
    ]


@router.delete("/services/{service_id}/var-groups/{var_group_id}", status_code=204, response_class=Response)
def detach_var_group(service_id: UUID, var_group_id: UUID, user: CurrentUser, store: StoreDep) -> Response:
    """Detach a var group from the service."""
    service, _, _ = _service_scope(store, user, service_id, Action.SERVICE_WRITE)
    store.detach_var_group(service.service_id, str(var_group_id), actor=actor_of(user))
    return Response(status_code=204)


@router.get("/services/{service_id}/status", response_model=s.StatusOut)
def get_status(service_id: UUID, user: CurrentUser, store: StoreDep) -> s.StatusOut:
    """The service's observed status, as its cluster's agent last reported it."""
    service, _, _ = _service_scope(store, user, service_id, Action.PROJECT_READ)
    status = store.service_status(service.service_id)
    if status is None:
        raise HttpError(404, "no status has been reported for this service yet")
    return status_out(status)


@router.get("/services/{service_id}/events", response_model=s.EventsPageOut)
def list_events(
    service_id: UUID,
    user: CurrentUser,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> s.EventsPageOut:
    """The service's events in order; page with ``after=<next_after>``."""
    service, _, _ = _service_scope(store, user, service_id, Action.PROJECT_READ)
    page = store.service_events(service.service_id, after=after, limit=limit)
    return s.EventsPageOut(events=[event_out(e) for e in page.events], next_after=page.next_after)
