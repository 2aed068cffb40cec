"""API tokens: issue, authenticate (recording last use), list, revoke, rotate. Hashes only."""

from __future__ import annotations

from typing import Any

from psycopg.rows import kwargs_row

from starform_adapters.postgres.fetch import fetch_all, fetch_one
from starform_adapters.postgres.repository import Cursor, Repository
from starform_core.access import Actor, ProjectRole, UserRecord
from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.ports.tokens import ApiTokenInfo, NewApiToken, Principal, TokenScope

__all__ = ["LAST_USED_RESOLUTION_SECONDS", "TokenRepository"]

LAST_USED_RESOLUTION_SECONDS = 60
"""``last_used_at`` is written at most once a minute per token (one write, not one per request)."""

_INFO_COLUMNS = (
    "id AS token_id, user_id, name, created_at, expires_at, last_used_at, revoked_at, project_id, role,"
    " rotated_from"
)

_INSERT = (  # constants only
    "INSERT INTO api_tokens (id, user_id, token_hash, name, expires_at, project_id, role, rotated_from)"  # noqa: S608
    f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_INFO_COLUMNS}"
)

# One round trip: find the live token, touch last_used_at when it is older than the resolution.

_AUTHENTICATE = f"""
WITH live AS (
    SELECT t.id, t.project_id, t.role, t.last_used_at, u.id AS user_id, u.email, u.name, u.is_operator
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
), touched AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE id = (SELECT id FROM live)
      AND (last_used_at IS NULL OR last_used_at < now() - interval '{LAST_USED_RESOLUTION_SECONDS} seconds')
)
SELECT id AS token_id, project_id, role, user_id, email, name, is_operator FROM live
"""  # noqa: S608 - a constant, not input


def _scope(project_id: Any, role: Any) -> TokenScope | None:
    return None if project_id is None else TokenScope(project_id=str(project_id), role=ProjectRole(role))


def _info(*, project_id: Any, role: Any, **columns: Any) -> ApiTokenInfo:
    return ApiTokenInfo(scope=_scope(project_id, role), **columns)


def _principal(*, token_id: str, project_id: Any, role: Any, **user: Any) -> Principal:
    return Principal(user=UserRecord(**user), token_id=token_id, scope=_scope(project_id, role))


_INFO_ROW = kwargs_row(_info)
_PRINCIPAL_ROW = kwargs_row(_principal)


def _token_audit(token: NewApiToken) -> dict[str, object]:
    return {
        "user_id": token.user_id,
        "name": token.name,
        "expires_at": None if token.expires_at is None else token.expires_at.isoformat(),
        "project_id": None if token.scope is None else token.scope.project_id,
        "role": None if token.scope is None else token.scope.role.value,
    }


class TokenRepository(Repository):
    """The :class:`~starform_core.ports.tokens.ApiTokenStore` on PostgreSQL."""

    @staticmethod
    def _insert_token(cur: Cursor, token: NewApiToken, *, rotated_from: str | None = None) -> ApiTokenInfo:
        if token.scope is not None:
            found = cur.execute("SELECT 1 FROM projects WHERE id = %s", (token.scope.project_id,)).fetchone()
            if found is None:
                raise ValidationError("project_id", "names no project")
        info = fetch_one(
            cur,
            _INSERT,
            (
                token.token_id,
                token.user_id,
                token.token_hash,
                token.name,
                token.expires_at,
                None if token.scope is None else token.scope.project_id,
                None if token.scope is None else token.scope.role.value,
                rotated_from,
            ),
            _INFO_ROW,
        )
        assert info is not None
        return info

    def issue_token(self, token: NewApiToken, *, actor: Actor) -> ApiTokenInfo:
        """Store a new token's hash with its name, expiry and scope."""
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM users WHERE id = %s", (token.user_id,)).fetchone() is None:
                raise StoreNotFoundError("user not found")
            info = self._insert_token(cur, token)
            self._audit(
                cur, actor, "api_token.create", "api_token", token.token_id, after=_token_audit(token)
            )
        return info

    def authenticate(self, token_hash: bytes) -> Principal:
        """The principal of a live (unrevoked, unexpired) token; touches ``last_used_at``."""
        with self._read() as cur:
            principal = fetch_one(cur, _AUTHENTICATE, (token_hash,), _PRINCIPAL_ROW)
        if principal is None:
            raise StoreNotFoundError("unknown, revoked or expired token")
        return principal

    def list_tokens(self, user_id: str) -> list[ApiTokenInfo]:
        """The user's tokens, newest first."""
        with self._read() as cur:
            return fetch_all(
                cur,
                f"SELECT {_INFO_COLUMNS} FROM api_tokens WHERE user_id = %s ORDER BY created_at DESC, id",  # noqa: S608
                (user_id,),
                _INFO_ROW,
            )

    @staticmethod
    def _own(cur: Cursor, token_id: str, user_id: str, *, lock: bool = False) -> ApiTokenInfo:
        info = fetch_one(
            cur,
            f"SELECT {_INFO_COLUMNS} FROM api_tokens WHERE id = %s AND user_id = %s"  # noqa: S608
            + (" FOR UPDATE" if lock else ""),
            (token_id, user_id),
            _INFO_ROW,
        )
        if info is None:
            raise StoreNotFoundError("token not found")
        return info

    def get_token(self, token_id: str, *, user_id: str) -> ApiTokenInfo:
        """One of the user's tokens."""
        with self._read() as cur:
            return self._own(cur, token_id, user_id)

    def revoke_token(self, token_id: str, *, user_id: str, actor: Actor) -> ApiTokenInfo:
        """Revoke a token now; the next request with it is refused."""
        with self._tx() as cur:
            current = self._own(cur, token_id, user_id, lock=True)
            if current.revoked_at is not None:
                raise StoreConflictError("token: already revoked")
            revoked = fetch_one(
                cur,
                f"UPDATE api_tokens SET revoked_at = now() WHERE id = %s RETURNING {_INFO_COLUMNS}",  # noqa: S608
                (token_id,),
                _INFO_ROW,
            )
            assert revoked is not None
            self._audit(cur, actor, "api_token.revoke", "api_token", token_id, before={"name": current.name})
        return revoked

    def rotate_token(
        self, token_id: str, *, replacement: NewApiToken, grace_seconds: int = 0, actor: Actor
    ) -> ApiTokenInfo:
        """Issue ``replacement`` with the old token's name and scope; the old one ends after the grace."""
        with self._tx() as cur:
            current = self._own(cur, token_id, replacement.user_id, lock=True)
            if current.revoked_at is not None:
                raise StoreConflictError("token: already revoked; create a new token instead")
            cur.execute(
                "UPDATE api_tokens SET expires_at = LEAST(coalesce(expires_at, 'infinity'),"
                " now() + make_interval(secs => %s)) WHERE id = %s",
                (grace_seconds, token_id),
            )
            if grace_seconds == 0:
                cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (token_id,))
            successor = NewApiToken(
                token_id=replacement.token_id,
                user_id=replacement.user_id,
                token_hash=replacement.token_hash,
                name=current.name,
                expires_at=replacement.expires_at,
                scope=current.scope,
            )
            info = self._insert_token(cur, successor, rotated_from=token_id)
            self._audit(
                cur,
                actor,
                "api_token.rotate",
                "api_token",
                successor.token_id,
                before={"token_id": token_id},
                after={**_token_audit(successor), "grace_seconds": grace_seconds},
            )
        return info
