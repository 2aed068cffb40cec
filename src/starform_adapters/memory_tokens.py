"""The in-memory API token store: the test double of the token port, same rules as PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from starform_core.errors import StoreConflictError, StoreNotFoundError, ValidationError
from starform_core.ports.store import Actor, UserRecord
from starform_core.ports.tokens import ApiTokenInfo, NewApiToken, Principal

__all__ = ["MemoryTokenStore"]

_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


class MemoryTokenStore:
    """Every method of :class:`~starform_core.ports.tokens.ApiTokenStore`, in memory.

    ``user(user_id)`` resolves a token's user (``StoreNotFoundError`` for none);
    ``project_exists(project_id)`` checks a scope's project.
    """

    def __init__(
        self,
        user: Callable[[str], UserRecord],
        *,
        project_exists: Callable[[str], bool] = lambda _project_id: True,
    ) -> None:
        self._user = user
        self._project_exists = project_exists
        self._tokens: dict[str, ApiTokenInfo] = {}
        self._hashes: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def _insert(self, token: NewApiToken, *, rotated_from: str | None = None) -> ApiTokenInfo:
        self._user(token.user_id)
        if token.scope is not None and not self._project_exists(token.scope.project_id):
            raise ValidationError("project_id", "names no project")
        if token.token_hash in self._hashes or token.token_id in self._tokens:
            raise StoreConflictError("token: already exists")
        info = ApiTokenInfo(
            token_id=token.token_id,
            user_id=token.user_id,
            name=token.name,
            created_at=_now(),
            expires_at=token.expires_at,
            scope=token.scope,
            rotated_from=rotated_from,
        )
        self._tokens[token.token_id] = info
        self._hashes[token.token_hash] = token.token_id
        return info

    def issue_token(self, token: NewApiToken, *, actor: Actor) -> ApiTokenInfo:
        """Store a new token."""
        with self._lock:
            return self._insert(token)

    def authenticate(self, token_hash: bytes) -> Principal:
        """The principal of a live token; records its use."""
        with self._lock:
            token_id = self._hashes.get(token_hash)
            info = None if token_id is None else self._tokens[token_id]
            now = _now()
            if (
                info is None
                or info.revoked_at is not None
                or (info.expires_at is not None and info.expires_at <= now)
            ):
                raise StoreNotFoundError("unknown, revoked or expired token")
            if info.last_used_at is None or info.last_used_at < now - _LAST_USED_RESOLUTION:
                self._tokens[info.token_id] = attrs.evolve(info, last_used_at=now)
            return Principal(user=self._user(info.user_id), token_id=info.token_id, scope=info.scope)

    def list_tokens(self, user_id: str) -> list[ApiTokenInfo]:
        """The user's tokens, newest first."""
        with self._lock:
            mine = [t for t in self._tokens.values() if t.user_id == user_id]
        return sorted(mine, key=lambda t: (t.created_at, t.token_id), reverse=True)

    def _own(self, token_id: str, user_id: str) -> ApiTokenInfo:
        info = self._tokens.get(token_id)
        if info is None or info.user_id != user_id:
            raise StoreNotFoundError("token not found")
        return info

    def get_token(self, token_id: str, *, user_id: str) -> ApiTokenInfo:
        """One of the user's tokens."""
        with self._lock:
            return self._own(token_id, user_id)

    def revoke_token(self, token_id: str, *, user_id: str, actor: Actor) -> ApiTokenInfo:
        """Revoke a token now."""
        with self._lock:
            info = self._own(token_id, user_id)
            if info.revoked_at is not None:
                raise StoreConflictError("token: already revoked")
            revoked = attrs.evolve(info, revoked_at=_now())
            self._tokens[token_id] = revoked
            return revoked

    def rotate_token(
        self, token_id: str, *, replacement: NewApiToken, grace_seconds: int = 0, actor: Actor
    ) -> ApiTokenInfo:
        """Replace a live token; the old one ends after ``grace_seconds``."""
        with self._lock:
            info = self._own(token_id, replacement.user_id)
            if info.revoked_at is not None:
                raise StoreConflictError("token: already revoked; create a new token instead")
            now = _now()
            end = now + timedelta(seconds=grace_seconds)
            ended = attrs.evolve(
                info,
                expires_at=end if info.expires_at is None else min(info.expires_at, end),
                revoked_at=now if grace_seconds == 0 else None,
            )
            successor = attrs.evolve(replacement, name=info.name, scope=info.scope)
            created = self._insert(successor, rotated_from=token_id)
            self._tokens[token_id] = ended
            return created


if TYPE_CHECKING:
    from starform_core.ports.tokens import ApiTokenStore

    def _conforms(user: Callable[[str], UserRecord]) -> ApiTokenStore:
        return MemoryTokenStore(user)
