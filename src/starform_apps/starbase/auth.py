"""Authentication (bearer tokens), rate quotas and the authorisation checks routes call.

People and CI present an API token; agents present their cluster's token. Tokens are looked up
by SHA-256 on every request (a revoked token fails at once) and never logged. A token scoped to
a project reaches that project only, with at most its role there. Not found and not visible
answer the same ``404 "<kind> not found"``, so ids of other tenants are never confirmed.
"""

from __future__ import annotations

from typing import Annotated

import attrs
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from starform_apps.starbase.agent_views import AgentViews
from starform_apps.starbase.http_errors import HttpError
from starform_apps.starbase.ports import TokensDep, agents_port
from starform_apps.starbase.ratelimit import Quota, RateLimits
from starform_apps.starbase.roles import Action, allowed, narrowed
from starform_apps.starbase.tokens import hash_token, tokens_match
from starform_core.access import Actor, Roles, UserRecord
from starform_core.errors import StoreNotFoundError
from starform_core.payload.rows import EnvironmentRow, ProjectRow
from starform_core.ports import TenancyStore
from starform_core.ports.tokens import TokenScope
from starform_core.records import AgentView

__all__ = [
    "Caller",
    "CurrentUser",
    "actor_of",
    "authenticate_agent",
    "authorize_project",
    "authorize_workspace",
    "bearer",
    "check_agent",
    "require_operator",
    "require_unscoped",
]

bearer = HTTPBearer(auto_error=False, description="An API token (people, CI) or a cluster token")


@attrs.frozen
class Caller:
    """The authenticated person (or CI job): the user, the token used and its scope."""

    user: UserRecord
    token_id: str
    scope: TokenScope | None = None

    @property
    def user_id(self) -> str:
        """The user's id."""
        return self.user.user_id

    @property
    def email(self) -> str:
        """The user's email."""
        return self.user.email

    @property
    def is_operator(self) -> bool:
        """Operators' unscoped tokens manage clusters; a scoped token never does."""
        return self.user.is_operator and self.scope is None


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise HttpError(401, "missing bearer token")
    return credentials.credentials


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    tokens: TokensDep,
) -> Caller:
    """The caller whose API token was presented (401 otherwise), charged to its rate quota."""
    token = _token(credentials)
    try:
        principal = tokens.authenticate(hash_token(token))
    except StoreNotFoundError as exc:
        raise HttpError(401, "unknown, revoked or expired token") from exc
    caller = Caller(user=principal.user, token_id=principal.token_id, scope=principal.scope)
    limits: RateLimits = request.app.state.rate_limits
    if caller.scope is None:
        limits.charge(Quota.USER, caller.user_id)
    else:
        limits.charge(Quota.TOKEN, caller.token_id)
    return caller


CurrentUser = Annotated[Caller, Depends(current_user)]
"""A route parameter that authenticates a person or a CI token."""


def check_agent(
    request: Request,
    cluster_id: str,
    credentials: HTTPAuthorizationCredentials | None,
) -> None:
    """Accept only the named cluster's own token (404 for any other), charged to the agent quota."""
    token = _token(credentials)
    try:
        stored = agents_port(request).cluster_token_hash(cluster_id)
    except StoreNotFoundError as exc:
        raise HttpError(404, "cluster not found") from exc
    if not tokens_match(token, stored):
        raise HttpError(404, "cluster not found")
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.AGENT, cluster_id)


async def authenticate_agent(
    request: Request,
    cluster_id: str,
    credentials: HTTPAuthorizationCredentials | None,
) -> AgentView:
    """:func:`check_agent` on the notification-fed agent views (no query in the steady state).

    Returns the cluster's view (version, pending reconcile requests) it was checked against.
    """
    token = _token(credentials)
    views: AgentViews = request.app.state.agent_views
    try:
        view = await views.get(cluster_id)
    except StoreNotFoundError as exc:
        raise HttpError(404, "cluster not found") from exc
    if not tokens_match(token, view.token_hash):
        raise HttpError(404, "cluster not found")
    limits: RateLimits = request.app.state.rate_limits
    limits.charge(Quota.AGENT, cluster_id)
    return view


def actor_of(caller: Caller) -> Actor:
    """The audit actor for a caller (a scoped token is named by its id)."""
    label = caller.email if caller.scope is None else f"{caller.email} (token {caller.token_id})"
    return Actor(label=label, user_id=caller.user_id)


def require_operator(caller: Caller) -> None:
    """Only platform operators (with an unscoped token) manage clusters."""
    if not caller.is_operator:
        raise HttpError(403, "only platform operators manage clusters (with an unscoped token)")


def require_unscoped(caller: Caller, what: str) -> None:
    """Refuse workspace-level calls and token management to a project-scoped token."""
    if caller.scope is not None:
        raise HttpError(403, f"a project-scoped token cannot {what}")


def _decide(roles: Roles, action: Action, what: str, *, in_project: bool) -> None:
    """404 for a caller who cannot see the resource, 403 for one who sees it but may not act."""
    if roles.workspace is None:
        raise HttpError(404, f"{what} not found")
    if allowed(action, roles):
        return
    if in_project and not allowed(Action.PROJECT_READ, roles):
        raise HttpError(404, f"{what} not found")
    raise HttpError(403, f"your role does not allow {action.value}")


def authorize_workspace(tenancy: TenancyStore, caller: Caller, workspace_id: str, action: Action) -> Roles:
    """Check a workspace-level action (unscoped tokens only); returns the roles."""
    require_unscoped(caller, "act on a workspace")
    try:
        tenancy.get_workspace(workspace_id)
    except StoreNotFoundError as exc:
        raise HttpError(404, "workspace not found") from exc
    roles = tenancy.roles_of(caller.user_id, workspace_id)
    _decide(roles, action, "workspace", in_project=False)
    return roles


def authorize_project(
    tenancy: TenancyStore,
    caller: Caller,
    project: ProjectRow,
    action: Action,
    *,
    environment: EnvironmentRow | None = None,
    what: str = "project",
) -> Roles:
    """Check a project-level action on a resource of kind ``what`` (its 404 names only the kind).

    Deploys into a protected environment need Admin; a scoped token sees its project only, with
    at most its role.
    """
    if caller.scope is not None and caller.scope.project_id != project.project_id:
        raise HttpError(404, f"{what} not found")
    roles = tenancy.roles_of(caller.user_id, project.workspace_id, project.project_id)
    if caller.scope is not None:
        roles = narrowed(roles, caller.scope.role)
    _decide(roles, action, what, in_project=True)
    if (
        action is Action.DEPLOY
        and environment is not None
        and environment.protected
        and not allowed(Action.DEPLOY_PROTECTED, roles)
    ):
        raise HttpError(403, f"environment {environment.name} is protected: deploys need project Admin")
    return roles
