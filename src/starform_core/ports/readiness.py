"""Readiness: whether Starbase's system of record answers."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Readiness"]


class Readiness(Protocol):
    """The readiness probe's one question."""

    def ping(self) -> None:
        """Raise :class:`~starform_core.errors.StoreError` unless the store answers."""
        ...
