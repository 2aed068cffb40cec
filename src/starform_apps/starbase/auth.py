"""Authentication (bearer tokens) and the authorisation checks routes call.

People present an API token tied to a user; agents present their cluster's token. Tokens are
compared as SHA-256 hashes in constant time; neither is ever logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.roles import Action, allowed
from starform_apps.starbase.tokens import hash_token, tokens_match
from starform_core.errors import StoreNotFoundError
from starform_core.payload.rows import EnvironmentRow, ProjectRow
from starform_core.ports.store import Actor, Roles, Store, UserRecord

__all__ = [
    "CurrentUser",
    "actor_of",
    "authorize_project",
    "authorize_workspace",
    "bearer",
    "check_agent",
    "require_operator",
    "store_of",
]

bearer = HTTPBearer(auto_error=False, description="An API token (people) or a cluster token")


def store_of(request: Request) -> Store:
    """The app's store."""
    store: Store = request.app.state.store
    return store


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise HttpError(401, "missing bearer token")
    return credentials.credentials


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> UserRecord:
    """The user whose API token was presented (401 otherwise)."""
    token = _token(credentials)
    try:
        return store_of(request).user_for_token(hash_token(token))
    except StoreNotFoundError as exc:
        raise HttpError(401, "unknown or revoked token") from exc


CurrentUser = Annotated[UserRecord, Depends(current_user)]
"""A route parameter that authenticates a person."""


def check_agent(
    request: Request,
    cluster_id: str,
    credentials: HTTPAuthorizationCredentials | None,
) -> None:
    """Accept only the named cluster's own token (404 for any other, so ids leak nothing)."""
    token = _token(credentials)
    try:
        stored = store_of(request).cluster_token_hash(cluster_id)
    except StoreNotFoundError as exc:
        raise HttpError(404, "cluster not found") from exc
    if not tokens_match(token, stored):
        raise HttpError(404, "cluster not found")


def actor_of(user: UserRecord) -> Actor:
    """The audit actor for a user."""
    return Actor(label=user.email, user_id=user.user_id)


def require_operator(user: UserRecord) -> None:
    """Only platform operators manage clusters."""
    if not user.is_operator:
        raise HttpError(403, "only platform operators manage clusters")


def _decide(roles: Roles, action: Action, what: str) -> None:
    if roles.workspace is None:
        raise HttpError(404, f"{what} not found")
    if allowed(action, roles):
        return
    if what == "project" and not allowed(Action.PROJECT_READ, roles):
        raise HttpError(404, "project not found")
    raise HttpError(403, f"your role does not allow {action.value}")


def authorize_workspace(store: Store, user: UserRecord, workspace_id: str, action: Action) -> Roles:
    """Check a workspace-level action; returns the roles."""
    store.get_workspace(workspace_id)
    roles = store.roles_of(user.user_id, workspace_id)
    _decide(roles, action, "workspace")
    return roles


def authorize_project(
    store: Store,
    user: UserRecord,
    project: ProjectRow,
    action: Action,
    *,
    environment: EnvironmentRow | None = None,
) -> Roles:
    """Check a project-level action (deploys into a protected environment need Admin)."""
    roles = store.roles_of(user.user_id, project.workspace_id, project.project_id)
    _decide(roles, action, "project")
    if (
        action is Action.DEPLOY
        and environment is not None
        and environment.protected
        and not allowed(Action.DEPLOY_PROTECTED, roles)
    ):
        raise HttpError(403, f"environment {environment.name} is protected: deploys need project Admin")
    return roles
