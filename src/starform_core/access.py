"""Who acts in Starbase and with which roles (§15): people, audit actors, workspace and project roles.

Plain values shared by the store ports, the token port, the Owner rules
(:mod:`starform_core.membership`) and the HTTP layer's role table.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["Actor", "ProjectRole", "Roles", "UserRecord", "WorkspaceRole"]


class WorkspaceRole(enum.StrEnum):
    """Workspace roles (§15): Owner, Admin, Billing, Member."""

    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    MEMBER = "member"


class ProjectRole(enum.StrEnum):
    """Project roles (§15): Admin, Developer, Viewer."""

    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


@attrs.frozen
class Actor:
    """Who makes a change; recorded in the audit log. ``user_id`` is ``None`` for the system."""

    label: str
    user_id: str | None = None


@attrs.frozen
class UserRecord:
    """A person (or CI identity) that holds API tokens; operators may register clusters."""

    user_id: str
    email: str
    name: str = ""
    is_operator: bool = False


@attrs.frozen
class Roles:
    """A user's roles on one workspace and (optionally) one of its projects."""

    workspace: WorkspaceRole | None = None
    project: ProjectRole | None = None
