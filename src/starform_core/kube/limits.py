"""Size limits Kubernetes itself enforces, which Starbase must respect before it stores intent."""

from __future__ import annotations

from collections.abc import Iterable

from starform_core.errors import ValidationError

__all__ = ["PROJECT_VARS_MAX_BYTES", "SECRET_MAX_BYTES", "check_project_vars_size", "check_secret_size"]

SECRET_MAX_BYTES = 1024 * 1024
"""The API server refuses a Secret whose data (keys and values) exceeds 1 MiB."""


PROJECT_VARS_MAX_BYTES = 8 * 1024 * 1024
"""Starbase's bound on the keys and values of all var groups of one project (8 MiB): they travel
in every payload of the project's cluster."""


def check_project_vars_size(field: str, total: int) -> None:
    """Refuse a project whose var groups would hold more than :data:`PROJECT_VARS_MAX_BYTES`."""
    if total > PROJECT_VARS_MAX_BYTES:
        raise ValidationError(
            field,
            f"the project's var groups would hold {total} bytes of keys and values; at most"
            f" {PROJECT_VARS_MAX_BYTES} per project",
        )


def check_secret_size(field: str, entries: Iterable[tuple[str, int]]) -> None:
    """Refuse entries ``(key, value size in bytes)`` that would not fit in one Secret."""
    total = sum(len(key.encode()) + size for key, size in entries)
    if total > SECRET_MAX_BYTES:
        raise ValidationError(
            field,
            f"the var group would hold {total} bytes of keys and values; at most {SECRET_MAX_BYTES}"
            " fit in a Kubernetes Secret",
        )
