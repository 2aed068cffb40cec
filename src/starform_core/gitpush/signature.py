"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``.

The HMAC is computed over the body's bytes exactly as received, before anything parses them,
and compared in constant time. Errors say what is wrong with the header, never the secret or
the expected value.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from starform_core.errors import WebhookSignatureError
from starform_core.secrets_values import SecretValue

__all__ = ["SIGNATURE_HEADER", "sign_body", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
"""The header GitHub signs deliveries in."""

_FORMAT = re.compile(r"^sha256=([0-9a-f]{64})$")


def sign_body(secret: SecretValue, body: bytes) -> str:
    """The header value GitHub would send for ``body`` signed with ``secret``."""
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secrets: tuple[SecretValue, ...], body: bytes, header: str | None) -> None:
    """Accept ``body`` if ``header`` is its signature under one of ``secrets`` (a rotation keeps
    the old secret valid for a while); else :class:`WebhookSignatureError`.

    Every secret is checked (no early exit), each with :func:`hmac.compare_digest`.
    """
    if header is None:
        raise WebhookSignatureError(f"the delivery has no {SIGNATURE_HEADER} header")
    match = _FORMAT.match(header.strip().lower())
    if match is None:
        raise WebhookSignatureError(f"{SIGNATURE_HEADER} is not of the form sha256=<64 hex digits>")
    given = match.group(0).encode()
    valid = False
    for secret in secrets:
        valid |= hmac.compare_digest(sign_body(secret, body).encode(), given)
    if not valid:
        raise WebhookSignatureError(f"{SIGNATURE_HEADER} does not match the body")
