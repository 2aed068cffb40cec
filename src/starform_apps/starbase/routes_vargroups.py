"""Var groups: values are write-only; reads return keys and metadata."""

from __future__ import annotations

import uuid
from uuid import UUID

from fastapi import APIRouter, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import Caller, CurrentUser, actor_of, authorize_project
from starform_apps.starbase.capacity import room_for_var_group
from starform_apps.starbase.convert import var_group_out
from starform_apps.starbase.http_errors import ERROR_RESPONSES
from starform_apps.starbase.ports import TenancyDep, VarGroupsDep
from starform_apps.starbase.roles import Action
from starform_core.payload.rows import VarGroupRow
from starform_core.ports import TenancyStore, VarGroupStore
from starform_core.secrets_values import SecretValue

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["var groups"], responses=ERROR_RESPONSES)


def _secrets(entries: dict[str, str]) -> dict[str, SecretValue]:
    """Wrap values at once (the request model has checked keys and sizes)."""
    return {key: SecretValue(value) for key, value in entries.items()}


def _group_scope(
    var_groups: VarGroupStore, tenancy: TenancyStore, user: Caller, var_group_id: UUID, action: Action
) -> VarGroupRow:
    group = var_groups.get_var_group(str(var_group_id))
    project = tenancy.get_project(group.project_id)
    authorize_project(tenancy, user, project, action, what="var group")
    return group


@router.post("/projects/{project_id}/var-groups", status_code=201, response_model=s.VarGroupOut)
def create_var_group(
    project_id: UUID, body: s.VarGroupIn, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> s.VarGroupOut:
    """Create a var group with entries (project Admin)."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.VAR_GROUP_MANAGE)
    room_for_var_group(var_groups, project.project_id)
    row = var_groups.create_var_group(
        VarGroupRow(
            var_group_id=str(uuid.uuid4()),
            project_id=project.project_id,
            name=body.name,
            environment_id=None if body.environment_id is None else str(body.environment_id),
        ),
        entries=_secrets(body.entries),
        actor=actor_of(user),
    )
    return var_group_out(row, var_groups.list_var_keys(row.var_group_id))


@router.get("/projects/{project_id}/var-groups", response_model=list[s.VarGroupOut])
def list_var_groups(
    project_id: UUID, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> list[s.VarGroupOut]:
    """A project's var groups with their keys."""
    project = tenancy.get_project(str(project_id))
    authorize_project(tenancy, user, project, Action.PROJECT_READ)
    return [
        var_group_out(g, var_groups.list_var_keys(g.var_group_id))
        for g in var_groups.list_var_groups(project.project_id)
    ]


@router.get("/var-groups/{var_group_id}", response_model=s.VarGroupOut)
def get_var_group(
    var_group_id: UUID, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> s.VarGroupOut:
    """One var group's keys and metadata (never values)."""
    group = _group_scope(var_groups, tenancy, user, var_group_id, Action.PROJECT_READ)
    return var_group_out(group, var_groups.list_var_keys(group.var_group_id))


@router.put("/var-groups/{var_group_id}/entries", response_model=s.VarGroupOut)
def set_entries(
    var_group_id: UUID, body: s.EntriesIn, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> s.VarGroupOut:
    """Insert or replace entries (project Admin)."""
    group = _group_scope(var_groups, tenancy, user, var_group_id, Action.VAR_GROUP_MANAGE)
    var_groups.set_var_entries(group.var_group_id, _secrets(body.entries), actor=actor_of(user))
    return var_group_out(group, var_groups.list_var_keys(group.var_group_id))


@router.delete("/var-groups/{var_group_id}/entries/{key}", status_code=204, response_class=Response)
def delete_entry(
    var_group_id: UUID, key: str, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> Response:
    """Remove one entry (project Admin)."""
    group = _group_scope(var_groups, tenancy, user, var_group_id, Action.VAR_GROUP_MANAGE)
    var_groups.delete_var_entry(group.var_group_id, key, actor=actor_of(user))
    return Response(status_code=204)


@router.delete("/var-groups/{var_group_id}", status_code=204, response_class=Response)
def delete_var_group(
    var_group_id: UUID, user: CurrentUser, tenancy: TenancyDep, var_groups: VarGroupsDep
) -> Response:
    """Delete a var group; it is detached from every service (project Admin)."""
    group = _group_scope(var_groups, tenancy, user, var_group_id, Action.VAR_GROUP_MANAGE)
    var_groups.delete_var_group(group.var_group_id, actor=actor_of(user))
    return Response(status_code=204)
