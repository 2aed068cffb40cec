"""API tokens (§39.2 #2): each user creates, lists, revokes and rotates their own tokens.

A token with ``project_id`` and ``role`` is scoped to that project (a CI token): it reaches no
other project and no workspace-level endpoint, and acts with at most ``role`` (never more than
its user holds at the time of each request). Only unscoped tokens manage tokens.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi import APIRouter, Response

from starform_apps.starbase import schemas as s
from starform_apps.starbase.auth import (
    Caller,
    CurrentUser,
    actor_of,
    authorize_project,
    require_unscoped,
)
from starform_apps.starbase.http_errors import ERROR_RESPONSES, HttpError
from starform_apps.starbase.ports import TenancyDep, TokensDep
from starform_apps.starbase.roles import Action
from starform_apps.starbase.tokens import USER_PREFIX, hash_token, new_token, token_state
from starform_core.access import ProjectRole
from starform_core.errors import StoreNotFoundError, ValidationError
from starform_core.ports import TenancyStore
from starform_core.ports.tokens import ApiTokenInfo, NewApiToken, TokenScope

__all__ = ["router", "token_out"]

router = APIRouter(prefix="/v1", tags=["tokens"], responses=ERROR_RESPONSES)

_ROLE_ACTION = {
    ProjectRole.VIEWER: Action.PROJECT_READ,
    ProjectRole.DEVELOPER: Action.DEPLOY,
    ProjectRole.ADMIN: Action.PROJECT_MEMBERS,
}


def token_out(info: ApiTokenInfo) -> s.TokenOut:
    """A token body (metadata only)."""
    return s.TokenOut(
        id=info.token_id,  # type: ignore[arg-type]
        name=info.name,
        project_id=None if info.scope is None else info.scope.project_id,  # type: ignore[arg-type]
        role=None if info.scope is None else info.scope.role,
        state=token_state(info),
        created_at=info.created_at,
        expires_at=info.expires_at,
        last_used_at=info.last_used_at,
        revoked_at=info.revoked_at,
        rotated_from=info.rotated_from,  # type: ignore[arg-type]
    )


def _expiry(days: int | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) + timedelta(days=days)


def _scope(tenancy: TenancyStore, caller: Caller, body: s.TokenIn) -> TokenScope | None:
    if (body.project_id is None) != (body.role is None):
        raise ValidationError("role", "give project_id and role for a scoped token, or neither")
    if body.project_id is None or body.role is None:
        return None
    try:
        project = tenancy.get_project(str(body.project_id))
    except StoreNotFoundError as exc:
        raise HttpError(404, "project not found") from exc
    try:
        authorize_project(tenancy, caller, project, _ROLE_ACTION[body.role])
    except HttpError as exc:
        if exc.status == 403:
            raise HttpError(403, f"you do not hold the {body.role.value} role on this project") from exc
        raise
    return TokenScope(project_id=project.project_id, role=body.role)


@router.post("/tokens", status_code=201, response_model=s.TokenCreated)
def create_token(
    body: s.TokenIn, user: CurrentUser, tenancy: TenancyDep, tokens: TokensDep
) -> s.TokenCreated:
    """Create a token for yourself; the secret is in this answer only."""
    require_unscoped(user, "manage tokens")
    scope = _scope(tenancy, user, body)
    secret = new_token(USER_PREFIX)
    info = tokens.issue_token(
        NewApiToken(
            token_id=str(uuid.uuid4()),
            user_id=user.user_id,
            token_hash=hash_token(secret),
            name=body.name,
            expires_at=_expiry(body.expires_in_days),
            scope=scope,
        ),
        actor=actor_of(user),
    )
    return s.TokenCreated(token=token_out(info), secret=secret)


@router.get("/tokens", response_model=list[s.TokenOut])
def list_tokens(user: CurrentUser, tokens: TokensDep) -> list[s.TokenOut]:
    """Your tokens, newest first (revoked and expired ones too)."""
    require_unscoped(user, "manage tokens")
    return [token_out(t) for t in tokens.list_tokens(user.user_id)]


@router.get("/tokens/{token_id}", response_model=s.TokenOut)
def get_token(token_id: UUID, user: CurrentUser, tokens: TokensDep) -> s.TokenOut:
    """One of your tokens."""
    require_unscoped(user, "manage tokens")
    return token_out(tokens.get_token(str(token_id), user_id=user.user_id))


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: UUID, user: CurrentUser, tokens: TokensDep) -> Response:
    """Revoke one of your tokens: the next request with it answers 401."""
    require_unscoped(user, "manage tokens")
    tokens.revoke_token(str(token_id), user_id=user.user_id, actor=actor_of(user))
    return Response(status_code=204)


@router.post("/tokens/{token_id}/rotate", status_code=201, response_model=s.TokenCreated)
def rotate_token(
    token_id: UUID, body: s.TokenRotateIn, user: CurrentUser, tokens: TokensDep
) -> s.TokenCreated:
    """A new secret with the same name and scope; the old one stops after ``grace_seconds``."""
    require_unscoped(user, "manage tokens")
    secret = new_token(USER_PREFIX)
    info = tokens.rotate_token(
        str(token_id),
        replacement=NewApiToken(
            token_id=str(uuid.uuid4()),
            user_id=user.user_id,
            token_hash=hash_token(secret),
            expires_at=_expiry(body.expires_in_days),
        ),
        grace_seconds=body.grace_seconds,
        actor=actor_of(user),
    )
    return s.TokenCreated(token=token_out(info), secret=secret)
