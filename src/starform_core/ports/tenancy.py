"""Tenancy and access: users, workspaces and their members, projects and their members, roles.

Every change is audited with its actor; creating a project or changing its tier bumps its
cluster's generation. The
Owner rules (:func:`~starform_core.membership.check_owner_rules`) hold inside the write.
Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown id,
:class:`~starform_core.errors.StoreConflictError` for a taken email or name or a broken Owner
rule, :class:`~starform_core.errors.ValidationError` for a value the domain refuses.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.access import Actor, ProjectRole, Roles, UserRecord, WorkspaceRole
from starform_core.model.enums import Tier
from starform_core.payload.rows import ProjectRow, WorkspaceRow

__all__ = ["TenancyStore", "UserStore"]


class UserStore(Protocol):
    """People (and CI identities) that hold API tokens."""

    def create_user(self, user: UserRecord) -> UserRecord:
        """Create a user (``StoreConflictError`` if the email is taken)."""
        ...

    def get_user(self, *, user_id: str | None = None, email: str | None = None) -> UserRecord:
        """A user by id or by email."""
        ...


class TenancyStore(UserStore, Protocol):
    """Workspaces, projects, their members and the roles the authorisation checks read."""

    def create_workspace(self, workspace: WorkspaceRow, *, owner: Actor) -> WorkspaceRow:
        """Create a workspace; ``owner`` becomes its Owner."""
        ...

    def get_workspace(self, workspace_id: str) -> WorkspaceRow:
        """One workspace."""
        ...

    def list_workspaces(self, user_id: str) -> list[WorkspaceRow]:
        """The workspaces the user is a member of."""
        ...

    def set_workspace_member(
        self, workspace_id: str, user_id: str, role: WorkspaceRole, *, actor: Actor
    ) -> None:
        """Add a member or change a member's role (the Owner rules hold)."""
        ...

    def remove_workspace_member(self, workspace_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a member (and their project roles in the workspace); the last Owner stays."""
        ...

    def create_project(self, project: ProjectRow, *, actor: Actor) -> ProjectRow:
        """Create a project pinned to its cluster."""
        ...

    def get_project(self, project_id: str) -> ProjectRow:
        """One project."""
        ...

    def set_project_tier(self, project_id: str, tier: Tier, *, actor: Actor) -> ProjectRow:
        """Move a project to another tier (its namespace's quota and limits follow); the project."""
        ...

    def list_projects(self, workspace_id: str) -> list[ProjectRow]:
        """A workspace's projects."""
        ...

    def set_project_member(self, project_id: str, user_id: str, role: ProjectRole, *, actor: Actor) -> None:
        """Add a project member or change the role."""
        ...

    def remove_project_member(self, project_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a user's project role."""
        ...

    def roles_of(self, user_id: str, workspace_id: str, project_id: str | None = None) -> Roles:
        """The user's workspace role and project role (either may be ``None``)."""
        ...
