"""Size limits Kubernetes itself enforces, which Starbase must respect before it stores intent."""

from __future__ import annotations

from collections.abc import Iterable

from starform_core.errors import ValidationError

__all__ = ["SECRET_MAX_BYTES", "check_secret_size"]

SECRET_MAX_BYTES = 1024 * 1024
"""The API server refuses a Secret whose data (keys and values) exceeds 1 MiB."""


def check_secret_size(field: str, entries: Iterable[tuple[str, int]]) -> None:
    """Refuse entries ``(key, value size in bytes)`` that would not fit in one Secret."""
    total = sum(len(key.encode()) + size for key, size in entries)
    if total > SECRET_MAX_BYTES:
        raise ValidationError(
            field,
            f"the var group would hold {total} bytes of keys and values; at most {SECRET_MAX_BYTES}"
            " fit in a Kubernetes Secret",
        )
