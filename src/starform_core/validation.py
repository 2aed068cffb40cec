"""Small, reusable validators for domain values.

Each validator raises :class:`~starform_core.errors.ValidationError` naming the field and the
reason. They are plain functions so attrs validators, row checks and the CLI share one rule set.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starform_core.errors import ValidationError

__all__ = [
    "ENVIRONMENT_NAME_MAX",
    "SERVICE_NAME_MAX",
    "check_dns1035_label",
    "check_environment_name",
    "check_hostname",
    "check_image_reference",
    "check_range",
    "check_uuid",
    "field_check",
]

ENVIRONMENT_NAME_MAX = 30
"""Environment names are RFC 1123 labels of at most 30 characters (§20.2)."""

SERVICE_NAME_MAX = 32
"""Service names are DNS-1035 labels of at most 32 characters (so ``<service>-<env>`` fits 63)."""

_RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_IMAGE_BY_DIGEST = re.compile(
    r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"@sha256:[a-f0-9]{64}$"
)


def check_environment_name(field: str, value: str) -> None:
    """Environment names: RFC 1123 label, lower case, at most 30 characters."""
    if len(value) > ENVIRONMENT_NAME_MAX:
        raise ValidationError(field, f"must be at most {ENVIRONMENT_NAME_MAX} characters")
    if not _RFC1123_LABEL.match(value):
        raise ValidationError(
            field,
            "must be an RFC 1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )


def check_dns1035_label(field: str, value: str, *, max_length: int = 63) -> None:
    """DNS-1035 labels: start with a letter, lower case, at most ``max_length`` characters."""
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if not _DNS1035_LABEL.match(value):
        raise ValidationError(
            field,
            "must be a DNS-1035 label: lower-case letters, digits and '-', "
            "starting with a letter and ending with a letter or digit",
        )


def check_hostname(field: str, value: str) -> None:
    """Hostnames: lower-case DNS names with at least two labels, optionally ``*.`` wildcard."""
    if len(value) > 253 or not _HOSTNAME.match(value):
        raise ValidationError(field, f"{value!r} is not a valid lower-case DNS hostname")
    if any(len(part) > 63 for part in value.split(".")):
        raise ValidationError(field, "each DNS label must be at most 63 characters")


def check_image_reference(field: str, value: str) -> None:
    """Images are pinned by digest: ``registry/repo[:tag]@sha256:<64 hex>``."""
    if not _IMAGE_BY_DIGEST.match(value):
        raise ValidationError(
            field, "must be an image reference pinned by digest (repository@sha256:<64 hex>)"
        )


def check_uuid(field: str, value: str) -> None:
    """UUIDs travel in canonical lower-case hyphenated form."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError(field, "must be a UUID") from exc
    if str(parsed) != value:
        raise ValidationError(field, "must be a UUID in canonical lower-case hyphenated form")


def check_range(field: str, value: int, *, low: int, high: int) -> None:
    """An integer inside ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}")


def field_check(check: Callable[[str, Any], None]) -> Callable[[Any, Any, Any], None]:
    """Adapt a ``check(field, value)`` function to an attrs validator naming the attribute."""

    def validator(_instance: Any, attribute: Any, value: Any) -> None:
        check(attribute.name, value)

    return validator
