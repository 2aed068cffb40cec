"""Converters for attrs fields: a list of strings frozen into a typed tuple (mypy understands these,
unlike a bare ``tuple`` converter)."""

from __future__ import annotations

from collections.abc import Iterable

from starform_core.errors import ValidationError

__all__ = ["as_str_tuple"]


def as_str_tuple(value: Iterable[str]) -> tuple[str, ...]:
    """Freeze a list of strings into a tuple; a lone string (not a list of characters) or a
    non-string item is refused."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("value", "must be a list of strings")
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise ValidationError("value", "must be a list of strings")
    return items
