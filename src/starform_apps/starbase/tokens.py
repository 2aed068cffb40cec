"""Bearer tokens: high-entropy random strings, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["AGENT_PREFIX", "USER_PREFIX", "hash_token", "new_token", "tokens_match"]

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
