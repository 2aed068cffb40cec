"""Projects, project members and environments."""

from __future__ import annotations

import uuid
from uuid import UUID

import attrs
from fastapi import APIRouter, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import Caller, CurrentUser, actor_of, authorize_project, authorize_workspace
from starform_apps.starbase.capacity import room_for_environment
from starform_apps.starbase.convert import environment_out, project_out, service_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import EnvironmentsDep, ServicesDep, TenancyDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.tier_checks import project_fits_tier
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.model.project import Environment
from starform_core.payload.rows import EnvironmentRow
from starform_core.ports import EnvironmentStore, TenancyStore

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["projects"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}", response_model=s.ProjectOut)
def get_project(project_id: UUID, user: CurrentUser, tenancy: TenancyDep) -> s.ProjectOut:
    """One project (project Viewer and up)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    return project_out(project)


@router.patch("/projects/{project_id}", response_model=s.ProjectOut)
def update_project(
    project_id: UUID, body: s.ProjectPatch, user: CurrentUser, tenancy: TenancyDep, services: ServicesDep
) -> s.ProjectOut:
    """Move a project to another tier (workspace Owner/Admin, as for creating a project).

    A tier whose caps one of the project's services (or its volumes together) would break is a
    ``422`` on ``tier`` naming the service, the field, the value and the cap; nothing changes.
    """
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    authorize_workspace(tenancy, user, project.workspace_id, Action.PROJECT_CREATE)
    if body.tier is project.tier:
        return project_out(project)
    project_fits_tier(body.tier, services, project.project_id)
    return project_out(tenancy.set_project_tier(project.project_id, body.tier, actor=actor_of(user)))


@router.put("/projects/{project_id}/members", status_code=204, response_class=Response)
def set_project_member(
    project_id: UUID, body: s.ProjectMemberIn, user: CurrentUser, tenancy: TenancyDep
) -> Response:
    """Give a workspace member a project role (project Admin)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_MEMBERS)
    try:
        member = tenancy.get_user(email=body.email)
    except StoreNotFoundError as exc:
        raise ValidationError("email", "names no member of the project's workspace") from exc
    if tenancy.roles_of(member.user_id, project.workspace_id).workspace is None:
        raise ValidationError("email", "names no member of the project's workspace")
    tenancy.set_project_member(project.project_id, member.user_id, body.role, actor=actor_of(user))
    return Response(status_code=204)


@router.delete("/projects/{project_id}/members/{user_id}", status_code=204, response_class=Response)
def remove_project_member(
    project_id: UUID, user_id: UUID, user: CurrentUser, tenancy: TenancyDep
) -> Response:
    """Remove a user's project role (project Admin)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_MEMBERS)
    tenancy.remove_project_member(project.project_id, str(user_id), actor=actor_of(user))
    return Response(status_code=204)


@router.post("/projects/{project_id}/environments", status_code=201, response_model=s.EnvironmentOut)
def create_environment(
    project_id: UUID,
    body: s.EnvironmentIn,
    user: CurrentUser,
    tenancy: TenancyDep,
    environments: EnvironmentsDep,
) -> s.EnvironmentOut:
    """Create an environment (project Admin)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.ENVIRONMENT_MANAGE)
    Environment(name=body.name, is_ephemeral=body.is_ephemeral, protected=body.protected)
    room_for_environment(environments, project.project_id)
    row = environments.create_environment(
        EnvironmentRow(
            environment_id=str(uuid.uuid4()),
            project_id=project.project_id,
            name=body.name,
            is_ephemeral=body.is_ephemeral,
            protected=body.protected,
        ),
        actor=actor_of(user),
    )
    return environment_out(row)


@router.get("/projects/{project_id}/environments", response_model=list[s.EnvironmentOut])
def list_environments(
    project_id: UUID, user: CurrentUser, tenancy: TenancyDep, environments: EnvironmentsDep
) -> list[s.EnvironmentOut]:
    """A project's environments."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    return [environment_out(e) for e in environments.list_environments(project.project_id)]


def _managed_environment(
    environments: EnvironmentStore, tenancy: TenancyStore, user: Caller, environment_id: UUID
) -> EnvironmentRow:
    """The environment, once the caller may manage it (project Admin)."""
    env = environments.get_environment(str(environment_id))
    project = tenancy.get_project(env.project_id)
    authorize_project(tenancy, user, project, Action.ENVIRONMENT_MANAGE, what="environment")
    return env


@router.patch("/environments/{environment_id}", response_model=s.EnvironmentOut)
def update_environment(
    environment_id: UUID,
    body: s.EnvironmentPatch,
    user: CurrentUser,
    tenancy: TenancyDep,
    environments: EnvironmentsDep,
) -> s.EnvironmentOut:
    """Change an environment's flags (project Admin)."""
    env = _managed_environment(environments, tenancy, user, environment_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = environments.update_environment(attrs.evolve(env, **changes), actor=actor_of(user))
    return environment_out(row)


@router.delete("/environments/{environment_id}", status_code=204, response_class=Response)
def delete_environment(
    environment_id: UUID, user: CurrentUser, tenancy: TenancyDep, environments: EnvironmentsDep
) -> Response:
    """Delete an environment with its services (project Admin)."""
    env = _managed_environment(environments, tenancy, user, environment_id)
    environments.delete_environment(env.environment_id, actor=actor_of(user))
    return Response(status_code=204)


@router.get("/projects/{project_id}/services", response_model=list[s.ServiceOut])
def list_services(
    project_id: UUID, user: CurrentUser, tenancy: TenancyDep, services: ServicesDep
) -> list[s.ServiceOut]:
    """A project's services (specs only; GET a service for its release and attachments)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    return [service_out(row) for row in services.list_services(project.project_id)]
