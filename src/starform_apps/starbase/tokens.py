"""Bearer tokens: high-entropy random strings, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime

from starform_core.access import Actor, UserRecord
from starform_core.errors import StoreNotFoundError
from starform_core.ports.tenancy import UserStore
from starform_core.ports.tokens import ApiTokenInfo, ApiTokenStore, NewApiToken, TokenScope

__all__ = [
    "AGENT_PREFIX",
    "USER_PREFIX",
    "ensure_user",
    "hash_token",
    "mint_user_token",
    "new_token",
    "secrets_equal",
    "token_state",
    "tokens_match",
]

USER_PREFIX = "sbu_"
"""Prefix of people's API tokens (so a leaked one is recognisable)."""

AGENT_PREFIX = "sba_"
"""Prefix of cluster agent tokens."""


def new_token(prefix: str) -> str:
    """A fresh token: the prefix and 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """The SHA-256 of a token (enough for 256-bit random tokens; no salt needed)."""
    return hashlib.sha256(token.encode()).digest()


def tokens_match(token: str, stored_hash: bytes) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(hash_token(token), stored_hash)


def secrets_equal(presented: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (hashed first, so lengths leak nothing)."""
    return hmac.compare_digest(hash_token(presented), hash_token(expected))


def token_state(info: ApiTokenInfo, *, now: datetime | None = None) -> str:
    """``revoked``, ``expired`` or ``active``."""
    if info.revoked_at is not None:
        return "revoked"
    if info.expires_at is not None and info.expires_at <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def ensure_user(users: UserStore, email: str, *, operator: bool = False) -> UserRecord:
    """The user with ``email``; created (an operator when ``operator``) if there is none."""
    try:
        return users.get_user(email=email)
    except StoreNotFoundError:
        return users.create_user(UserRecord(user_id=str(uuid.uuid4()), email=email, is_operator=operator))


def mint_user_token(
    users: UserStore,
    tokens: ApiTokenStore,
    email: str,
    *,
    actor: Actor,
    operator: bool = False,
    name: str = "",
    expires_at: datetime | None = None,
    scope: TokenScope | None = None,
) -> str:
    """Issue a new API token for the user with ``email`` (created if new); returns the secret.

    The secret exists only in this return value: the store keeps its hash.
    """
    owner = ensure_user(users, email, operator=operator)
    secret = new_token(USER_PREFIX)
    tokens.issue_token(
        NewApiToken(
            token_id=str(uuid.uuid4()),
            user_id=owner.user_id,
            token_hash=hash_token(secret),
            name=name,
            expires_at=expires_at,
            scope=scope,
        ),
        actor=actor,
    )
    return secret
