"""Projects, project members and environments."""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

import attrs
from fastapi import APIRouter, Depends, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, authorize_project, store_of
from starform_apps.starbase.capacity import room_for_environment
from starform_apps.starbase.convert import environment_out, project_out, service_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.roles import Action
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.model.project import Environment
from starform_core.payload.rows import EnvironmentRow
from starform_core.ports.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["projects"], responses=ERROR_RESPONSES)
StoreDep = Annotated[Store, Depends(store_of)]


@router.get("/projects/{project_id}", response_model=s.ProjectOut)
def get_project(project_id: UUID, user: CurrentUser, store: StoreDep) -> s.ProjectOut:
    """One project (project Viewer and up)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.PROJECT_READ)
    return project_out(project)


@router.put("/projects/{project_id}/members", status_code=204, response_class=Response)
def set_project_member(
    project_id: UUID, body: s.ProjectMemberIn, user: CurrentUser, store: StoreDep
) -> Response:
    """Give a workspace member a project role (project Admin)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.PROJECT_MEMBERS)
    try:
        member = store.get_user(email=body.email)
    except StoreNotFoundError as exc:
        raise ValidationError("email", "names no member of the project's workspace") from exc
    if store.roles_of(member.user_id, project.workspace_id).workspace is None:
        raise ValidationError("email", "names no member of the project's workspace")
    store.set_project_member(project.project_id, member.user_id, body.role, actor=actor_of(user))
    return Response(status_code=204)


@router.delete("/projects/{project_id}/members/{user_id}", status_code=204, response_class=Response)
def remove_project_member(project_id: UUID, user_id: UUID, user: CurrentUser, store: StoreDep) -> Response:
    """Remove a user's project role (project Admin)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.PROJECT_MEMBERS)
    store.remove_project_member(project.project_id, str(user_id), actor=actor_of(user))
    return Response(status_code=204)


@router.post("/projects/{project_id}/environments", status_code=201, response_model=s.EnvironmentOut)
def create_environment(
    project_id: UUID, body: s.EnvironmentIn, user: CurrentUser, store: StoreDep
) -> s.EnvironmentOut:
    """Create an environment (project Admin)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.ENVIRONMENT_MANAGE)
    Environment(name=body.name, is_ephemeral=body.is_ephemeral, protected=body.protected)
    room_for_environment(store, project.project_id)
    row = store.create_environment(
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
def list_environments(project_id: UUID, user: CurrentUser, store: StoreDep) -> list[s.EnvironmentOut]:
    """A project's environments."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.PROJECT_READ)
    return [environment_out(e) for e in store.list_environments(project.project_id)]


@router.patch("/environments/{environment_id}", response_model=s.EnvironmentOut)
def update_environment(
    environment_id: UUID, body: s.EnvironmentPatch, user: CurrentUser, store: StoreDep
) -> s.EnvironmentOut:
    """Change an environment's flags (project Admin)."""
    env = store.get_environment(str(environment_id))
    authorize_project(
        store, user, store.get_project(env.project_id), Action.ENVIRONMENT_MANAGE, what="environment"
    )
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    row = store.update_environment(attrs.evolve(env, **changes), actor=actor_of(user))
    return environment_out(row)


@router.delete("/environments/{environment_id}", status_code=204, response_class=Response)
def delete_environment(environment_id: UUID, user: CurrentUser, store: StoreDep) -> Response:
    """Delete an environment with its services (project Admin)."""
    env = store.get_environment(str(environment_id))
    authorize_project(
        store, user, store.get_project(env.project_id), Action.ENVIRONMENT_MANAGE, what="environment"
    )
    store.delete_environment(env.environment_id, actor=actor_of(user))
    return Response(status_code=204)


@router.get("/projects/{project_id}/services", response_model=list[s.ServiceOut])
def list_services(project_id: UUID, user: CurrentUser, store: StoreDep) -> list[s.ServiceOut]:
    """A project's services (specs only; GET a service for its release and attachments)."""
    project = store.get_project(str(project_id))
    authorize_project(store, user, project, Action.PROJECT_READ)
    return [service_out(row) for row in store.list_services(project.project_id)]
