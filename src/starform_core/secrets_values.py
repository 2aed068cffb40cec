"""Secret values that cannot leak by accident, and keyed checksums of them.

A :class:`SecretValue` redacts itself in ``repr``/``str``/formatting; only :meth:`reveal`
returns the plaintext, and only the payload codec and the Secret renderer call it. Checksums
over secret material are HMAC-SHA256 under a key the caller holds, so an annotation on a pod
template cannot be reversed by guessing candidate values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import attrs

__all__ = ["REDACTED", "SecretValue", "keyed_checksum"]

REDACTED = "<redacted>"
"""What a secret value looks like wherever it is printed."""


@attrs.frozen(repr=False)
class SecretValue:
    """A secret string (a var group entry value). Printing it never shows the value."""

    _plaintext: str = attrs.field(alias="plaintext")

    def reveal(self) -> str:
        """The plaintext. Call only where the value must travel: the payload and the Secret."""
        return self._plaintext

    def __repr__(self) -> str:
        return f"SecretValue({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED


def keyed_checksum(key: bytes, items: Iterable[tuple[str, SecretValue]]) -> str:
    """HMAC-SHA256 (hex) over ``items`` in key order, framed so no two sets collide.

    ``key`` must be secret to the caller (Starbase derives one per cluster); without it the
    checksum reveals nothing about the values.
    """
    if len(key) < 16:
        raise ValueError("checksum key must be at least 16 bytes")
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for name, value in sorted(items, key=lambda item: item[0]):
        for part in (name.encode(), value.reveal().encode()):
            mac.update(len(part).to_bytes(8, "big"))
            mac.update(part)
    return mac.hexdigest()
