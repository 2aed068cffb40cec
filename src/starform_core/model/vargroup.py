"""Var groups (§38): named sets of environment variables and secrets attached to services."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from starform_core.errors import ValidationError
from starform_core.secrets_values import SecretValue
from starform_core.validation import check_environment_name, check_range, check_uuid, field_check

__all__ = ["VarGroup", "VarGroupAttachment", "check_var_key"]

_ENV_VAR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHECKSUM = re.compile(r"^[a-f0-9]{64}$")


def check_var_key(field: str, value: str) -> None:
    """Var keys are environment variable names (and therefore valid Secret keys)."""
    if len(value) > 253 or not _ENV_VAR_KEY.match(value):
        raise ValidationError(field, f"{value!r} is not a valid environment variable name")


def _entries(
    value: Mapping[str, SecretValue] | Iterable[tuple[str, SecretValue]],
) -> tuple[tuple[str, SecretValue], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    result = tuple(sorted(((str(k), v) for k, v in items), key=lambda kv: kv[0]))
    seen: set[str] = set()
    for key, secret in result:
        check_var_key(f"entries.{key}", key)
        if not isinstance(secret, SecretValue):
            raise ValidationError(f"entries.{key}", "value must be a SecretValue")
        if key in seen:
            raise ValidationError(f"entries.{key}", "duplicate key")
        seen.add(key)
    return result


@attrs.frozen
class VarGroup:
    """One var group: its entries (secret values, redacted when printed) and a keyed checksum.

    ``environment`` scopes the group to one environment of its project; ``None`` means shared.
    ``checksum`` is HMAC-SHA256 of the entries under Starbase's key (§38.7): it changes when any
    value changes and cannot be reversed by guessing values.
    """

    var_group_id: str = attrs.field(validator=field_check(check_uuid))
    name: str
    checksum: str = attrs.field()
    entries: tuple[tuple[str, SecretValue], ...] = attrs.field(converter=_entries)
    environment: str | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(field_check(check_environment_name)),
    )

    @checksum.validator
    def _check_checksum(self, _attribute: object, value: str) -> None:
        if not _CHECKSUM.match(value):
            raise ValidationError("checksum", "must be 64 lower-case hex characters")

    def keys(self) -> tuple[str, ...]:
        """The entry keys, sorted."""
        return tuple(key for key, _ in self.entries)


@attrs.frozen(order=True)
class VarGroupAttachment:
    """A var group attached to a service; higher ``attach_order`` wins on duplicate keys."""

    attach_order: int = attrs.field(validator=lambda _i, a, v: check_range(a.name, v, low=0, high=10_000))
    var_group_id: str = attrs.field(validator=field_check(check_uuid))
