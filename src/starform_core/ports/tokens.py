"""The API token port: people's and CI's bearer tokens, scoped, expiring, revocable, rotatable.

Only a token's hash is ever stored or passed here; the secret exists once, in the answer that
creates it. :meth:`ApiTokenStore.authenticate` is the one read on every request: it refuses a
revoked or expired token at once (no cache) and records when the token was last used.

Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown token, or a token of
another user (the two are indistinguishable); :class:`~starform_core.errors.StoreConflictError`
for a token that is already revoked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import attrs

from starform_core.access import Actor, ProjectRole, UserRecord

__all__ = ["ApiTokenInfo", "ApiTokenStore", "NewApiToken", "Principal", "TokenScope"]


@attrs.frozen
class TokenScope:
    """A token limited to one project, with at most ``role`` there (a CI token)."""

    project_id: str
    role: ProjectRole


@attrs.frozen(repr=False)
class NewApiToken:
    """A token to store: its id, owner, name, expiry, optional scope and the secret's hash."""

    token_id: str
    user_id: str
    token_hash: bytes
    name: str = ""
    expires_at: datetime | None = None
    scope: TokenScope | None = None

    def __repr__(self) -> str:
        return f"NewApiToken(token_id={self.token_id!r}, user_id={self.user_id!r}, name={self.name!r})"


@attrs.frozen
class ApiTokenInfo:
    """What may be shown about a token: never its secret, never its hash."""

    token_id: str
    user_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    scope: TokenScope | None = None
    rotated_from: str | None = None


@attrs.frozen
class Principal:
    """Who a presented token authenticates: the user, the token and the token's scope."""

    user: UserRecord
    token_id: str
    scope: TokenScope | None = None


class ApiTokenStore(Protocol):
    """Issue, authenticate, list, revoke and rotate API tokens."""

    def issue_token(self, token: NewApiToken, *, actor: Actor) -> ApiTokenInfo:
        """Store a new token (its user must exist; a scoped token's project too)."""
        ...

    def authenticate(self, token_hash: bytes) -> Principal:
        """The principal of a live token; records the use (``StoreNotFoundError`` otherwise)."""
        ...

    def list_tokens(self, user_id: str) -> list[ApiTokenInfo]:
        """The user's tokens, newest first, revoked and expired ones included."""
        ...

    def get_token(self, token_id: str, *, user_id: str) -> ApiTokenInfo:
        """One of the user's tokens."""
        ...

    def revoke_token(self, token_id: str, *, user_id: str, actor: Actor) -> ApiTokenInfo:
        """Revoke one of the user's tokens; it stops working at once."""
        ...

    def rotate_token(
        self, token_id: str, *, replacement: NewApiToken, grace_seconds: int = 0, actor: Actor
    ) -> ApiTokenInfo:
        """Replace a live token of ``replacement.user_id`` by ``replacement`` (same name and scope).

        The old token keeps working for ``grace_seconds`` (0: it stops at once).
        """
        ...
