"""The role table (§15): who may do what. The one place authorisation rules live.

Workspace roles: Owner, Admin, Billing, Member. Project roles: Admin, Developer, Viewer.

=========================  ==================================================================
action                     allowed
=========================  ==================================================================
workspace.read             any workspace role
workspace.members          workspace Owner, Admin (only an Owner grants Owner)
project.create             workspace Owner, Admin
project.read               project Viewer, Developer, Admin
project.members            project Admin
environment.manage         project Admin
var_group.manage           project Admin
service.write              project Developer, Admin (services, hostnames, volumes, attachments)
deploy                     project Developer, Admin
deploy.protected           project Admin (deploys and rollbacks into a ``protected`` env)
billing.read               workspace Owner, Billing (usage, invoices: money, not code)
=========================  ==================================================================

Workspace Owner and Admin are implicitly project Admin on every project of the workspace.
Billing sees billing only: it has no project access, whatever ``project_members`` says.
Member has project access only through ``project_members``. A user with no workspace role sees
nothing (the API answers 404, not 403, so ids of other tenants are not confirmed). A
project-scoped API token acts with at most its role in its one project (:func:`narrowed`).
Only an Owner grants, changes or removes the Owner role, and one Owner always remains
(``starform_core.membership``).
"""

from __future__ import annotations

import enum

from starform_core.access import ProjectRole, Roles, WorkspaceRole

__all__ = ["Action", "allowed", "effective_project_role", "narrowed"]


class Action(enum.StrEnum):
    """Everything the people API authorises."""

    WORKSPACE_READ = "workspace.read"
    WORKSPACE_MEMBERS = "workspace.members"
    PROJECT_CREATE = "project.create"
    PROJECT_READ = "project.read"
    PROJECT_MEMBERS = "project.members"
    ENVIRONMENT_MANAGE = "environment.manage"
    VAR_GROUP_MANAGE = "var_group.manage"
    SERVICE_WRITE = "service.write"
    DEPLOY = "deploy"
    DEPLOY_PROTECTED = "deploy.protected"
    BILLING_READ = "billing.read"


_WS = WorkspaceRole
_PR = ProjectRole

_WORKSPACE_ACTIONS: dict[Action, frozenset[WorkspaceRole]] = {
    Action.WORKSPACE_READ: frozenset(WorkspaceRole),
    Action.WORKSPACE_MEMBERS: frozenset({_WS.OWNER, _WS.ADMIN}),
    Action.PROJECT_CREATE: frozenset({_WS.OWNER, _WS.ADMIN}),
    Action.BILLING_READ: frozenset({_WS.OWNER, _WS.BILLING}),
}

_PROJECT_ACTIONS: dict[Action, frozenset[ProjectRole]] = {
    Action.PROJECT_READ: frozenset({_PR.VIEWER, _PR.DEVELOPER, _PR.ADMIN}),
    Action.PROJECT_MEMBERS: frozenset({_PR.ADMIN}),
    Action.ENVIRONMENT_MANAGE: frozenset({_PR.ADMIN}),
    Action.VAR_GROUP_MANAGE: frozenset({_PR.ADMIN}),
    Action.SERVICE_WRITE: frozenset({_PR.DEVELOPER, _PR.ADMIN}),
    Action.DEPLOY: frozenset({_PR.DEVELOPER, _PR.ADMIN}),
    Action.DEPLOY_PROTECTED: frozenset({_PR.ADMIN}),
}


def effective_project_role(roles: Roles) -> ProjectRole | None:
    """The project role that counts: Owner/Admin imply Admin; Billing and outsiders get none."""
    if roles.workspace in (_WS.OWNER, _WS.ADMIN):
        return _PR.ADMIN
    if roles.workspace is _WS.MEMBER:
        return roles.project
    return None


_RANK = {_PR.VIEWER: 1, _PR.DEVELOPER: 2, _PR.ADMIN: 3}


def narrowed(roles: Roles, cap: ProjectRole) -> Roles:
    """The roles a project-scoped token acts with: at most ``cap`` in the project, nothing above.

    A token never holds more than its user: if the user lost the project, so did the token.
    """
    role = effective_project_role(roles)
    if role is None:
        return Roles(workspace=roles.workspace)
    capped = role if _RANK[role] <= _RANK[cap] else cap
    return Roles(workspace=_WS.MEMBER, project=capped)


def allowed(action: Action, roles: Roles) -> bool:
    """Whether a user holding ``roles`` may perform ``action``."""
    if action in _WORKSPACE_ACTIONS:
        return roles.workspace in _WORKSPACE_ACTIONS[action]
    role = effective_project_role(roles)
    return role is not None and role in _PROJECT_ACTIONS[action]
