"""Workspaces, their members and their projects."""

from __future__ import annotations

import uuid
from uuid import UUID

from fastapi import APIRouter, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import CurrentUser, actor_of, authorize_workspace, require_unscoped
from starform_apps.starbase.convert import project_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ports import TenancyDep
from starform_apps.starbase.roles import Action, allowed
from starform_core.access import WorkspaceRole
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.payload.rows import ProjectRow, WorkspaceRow

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["workspaces"], responses=ERROR_RESPONSES)


def _only_owners_touch_owners(
    actor: WorkspaceRole | None, current: WorkspaceRole | None, new: WorkspaceRole | None
) -> None:
    if WorkspaceRole.OWNER in (current, new) and actor is not WorkspaceRole.OWNER:
        raise HttpError(403, "only an Owner grants, changes or removes the Owner role")


@router.post("/workspaces", status_code=201, response_model=s.WorkspaceOut)
def create_workspace(body: s.WorkspaceIn, user: CurrentUser, tenancy: TenancyDep) -> s.WorkspaceOut:
    """Create a workspace; the caller becomes its Owner."""
    require_unscoped(user, "create a workspace")
    row = tenancy.create_workspace(
        WorkspaceRow(workspace_id=str(uuid.uuid4()), name=body.name), owner=actor_of(user)
    )
    return s.WorkspaceOut(id=row.workspace_id, name=row.name)  # type: ignore[arg-type]


@router.get("/workspaces", response_model=list[s.WorkspaceOut])
def list_workspaces(user: CurrentUser, tenancy: TenancyDep) -> list[s.WorkspaceOut]:
    """The caller's workspaces."""
    require_unscoped(user, "list workspaces")
    return [
        s.WorkspaceOut(id=w.workspace_id, name=w.name)  # type: ignore[arg-type]
        for w in tenancy.list_workspaces(user.user_id)
    ]


@router.get("/workspaces/{workspace_id}", response_model=s.WorkspaceOut)
def get_workspace(workspace_id: UUID, user: CurrentUser, tenancy: TenancyDep) -> s.WorkspaceOut:
    """One workspace (any workspace role)."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.WORKSPACE_READ)
    row = tenancy.get_workspace(str(workspace_id))
    return s.WorkspaceOut(id=row.workspace_id, name=row.name)  # type: ignore[arg-type]


@router.put("/workspaces/{workspace_id}/members", status_code=204, response_class=Response)
def set_member(workspace_id: UUID, body: s.MemberIn, user: CurrentUser, tenancy: TenancyDep) -> Response:
    """Add a member or change a role (Owner/Admin; only an Owner touches the Owner role).

    The last Owner cannot be demoted (409); the rules are re-checked in the store's transaction,
    so concurrent requests cannot leave the workspace without an Owner.
    """
    roles = authorize_workspace(tenancy, user, str(workspace_id), Action.WORKSPACE_MEMBERS)
    try:
        member = tenancy.get_user(email=body.email)
    except StoreNotFoundError as exc:
        raise ValidationError("email", "no user has this email") from exc
    current = tenancy.roles_of(member.user_id, str(workspace_id)).workspace
    _only_owners_touch_owners(roles.workspace, current, body.role)
    tenancy.set_workspace_member(str(workspace_id), member.user_id, body.role, actor=actor_of(user))
    return Response(status_code=204)


@router.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204, response_class=Response)
def remove_member(workspace_id: UUID, user_id: UUID, user: CurrentUser, tenancy: TenancyDep) -> Response:
    """Remove a member and their project roles (Owner/Admin; only an Owner removes an Owner)."""
    roles = authorize_workspace(tenancy, user, str(workspace_id), Action.WORKSPACE_MEMBERS)
    target = tenancy.roles_of(str(user_id), str(workspace_id)).workspace
    _only_owners_touch_owners(roles.workspace, target, None)
    tenancy.remove_workspace_member(str(workspace_id), str(user_id), actor=actor_of(user))
    return Response(status_code=204)


@router.post("/workspaces/{workspace_id}/projects", status_code=201, response_model=s.ProjectOut)
def create_project(
    workspace_id: UUID, body: s.ProjectIn, user: CurrentUser, tenancy: TenancyDep
) -> s.ProjectOut:
    """Create a project pinned to a cluster (workspace Owner/Admin)."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.PROJECT_CREATE)
    row = tenancy.create_project(
        ProjectRow(
            project_id=str(uuid.uuid4()),
            workspace_id=str(workspace_id),
            cluster_id=str(body.cluster_id),
            name=body.name,
            tier=body.tier,
        ),
        actor=actor_of(user),
    )
    return project_out(row)


@router.get("/workspaces/{workspace_id}/projects", response_model=list[s.ProjectOut])
def list_projects(workspace_id: UUID, user: CurrentUser, tenancy: TenancyDep) -> list[s.ProjectOut]:
    """The workspace's projects the caller can read."""
    authorize_workspace(tenancy, user, str(workspace_id), Action.WORKSPACE_READ)
    visible = []
    for project in tenancy.list_projects(str(workspace_id)):
        roles = tenancy.roles_of(user.user_id, project.workspace_id, project.project_id)
        if allowed(Action.PROJECT_READ, roles):
            visible.append(project_out(project))
    return visible
