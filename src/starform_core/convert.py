"""Typed converters for attrs fields (mypy understands these, unlike bare ``tuple``)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["as_str_tuple"]


def as_str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """Freeze an iterable of strings into a tuple of strings."""
    return tuple(value)
