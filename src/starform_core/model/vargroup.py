"""Var groups (§38): named sets of environment variables and secrets attached to services."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from starform_core.errors import ValidationError
from starform_core.secrets_values import SecretValue
from starform_core.validation import (
    check_environment_name,
    check_optional,
    check_range,
    check_text,
    check_uuid,
    field_check,
    fullmatch,
)

__all__ = ["VAR_KEY_MAX", "VarGroup", "VarGroupAttachment", "check_var_key"]

_ENV_VAR_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHECKSUM = re.compile(r"[a-f0-9]{64}")
VAR_KEY_MAX = 253
"""The longest var key (a Secret key is at most 253 characters)."""


def check_var_key(field: str, value: str) -> None:
    """Var keys are environment variable names (and therefore valid Secret keys)."""
    if not fullmatch(_ENV_VAR_KEY, value) or len(value) > VAR_KEY_MAX:
        raise ValidationError(
            field,
            f"must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*, at most {VAR_KEY_MAX})",
        )


def _entries(value: object) -> tuple[tuple[str, SecretValue], ...]:
    """Entries from a mapping or ``(key, value)`` pairs: valid keys, once each, secret values."""
    if isinstance(value, str | bytes) or not isinstance(value, Mapping | Iterable):
        raise ValidationError("entries", "must map variable names to secret values")
    items = list(value.items() if isinstance(value, Mapping) else value)
    if not all(isinstance(item, tuple | list) and len(item) == 2 for item in items):
        raise ValidationError("entries", "must map variable names to secret values")
    seen: set[str] = set()
    for index, (key, secret) in enumerate(items):
        if not isinstance(key, str):
            raise ValidationError(f"entries[{index}]", "variable names must be strings")
        check_var_key("entries", key)
        if not isinstance(secret, SecretValue):
            raise ValidationError(f"entries.{key}", "value must be a SecretValue")
        if key in seen:
            raise ValidationError(f"entries.{key}", "duplicate key")
        seen.add(key)
    return tuple(sorted(((key, secret) for key, secret in items), key=lambda kv: kv[0]))


@attrs.frozen
class VarGroup:
    """One var group: its entries (secret values, redacted when printed) and a keyed checksum.

    ``environment`` scopes the group to one environment of its project; ``None`` means shared.
    ``checksum`` is HMAC-SHA256 of the entries under Starbase's key (§38.7): it changes when any
    value changes and cannot be reversed by guessing values.
    """

    var_group_id: str = attrs.field(validator=field_check(check_uuid))
    name: str = attrs.field(validator=field_check(check_text))
    checksum: str = attrs.field()
    entries: tuple[tuple[str, SecretValue], ...] = attrs.field(converter=_entries)
    environment: str | None = attrs.field(
        default=None,
        validator=field_check(check_optional(check_environment_name)),
    )

    @checksum.validator
    def _check_checksum(self, _attribute: object, value: str) -> None:
        if not fullmatch(_CHECKSUM, value):
            raise ValidationError("checksum", "must be 64 lower-case hex characters")

    def keys(self) -> tuple[str, ...]:
        """The entry keys, sorted."""
        return tuple(key for key, _ in self.entries)


@attrs.frozen(order=True)
class VarGroupAttachment:
    """A var group attached to a service; higher ``attach_order`` wins on duplicate keys."""

    attach_order: int = attrs.field(validator=lambda _i, a, v: check_range(a.name, v, low=0, high=10_000))
    var_group_id: str = attrs.field(validator=field_check(check_uuid))
