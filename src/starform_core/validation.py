"""Small, reusable validators for domain values.

Each validator raises :class:`~starform_core.errors.ValidationError` naming the field and the
reason. They are plain functions so attrs validators, row checks and the CLI share one rule set.

Two rules hold for every check here:

* patterns match the **whole** value (``re.fullmatch``): Python's ``$`` also matches before a
  final newline, so ``"name\\n"`` would pass a ``^...$`` check;
* a reason never quotes the value it refuses (values may be customer data; the field name and
  the rule are enough to fix it).
"""

from __future__ import annotations

import enum
import functools
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from starform_core.errors import ValidationError

E = TypeVar("E", bound=enum.StrEnum)
T = TypeVar("T")

__all__ = [
    "CONTROL_CHARACTERS",
    "ENVIRONMENT_NAME_MAX",
    "SERVICE_NAME_MAX",
    "check_bool",
    "check_dns1035_label",
    "check_environment_name",
    "check_hostname",
    "check_image_reference",
    "check_optional",
    "check_qualified_name",
    "check_range",
    "check_subdomain",
    "check_text",
    "check_uuid",
    "field_check",
    "fullmatch",
    "instance_of",
    "remembered",
    "to_enum",
    "tuple_of",
]

ENVIRONMENT_NAME_MAX = 30
"""Environment names are RFC 1123 labels of at most 30 characters (§20.2)."""

SERVICE_NAME_MAX = 32
"""Service names are DNS-1035 labels of at most 32 characters (so ``<service>-<env>`` fits 63)."""

CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (newline, tab, NUL, ...): never part of a name or a path."""

_RFC1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_RFC1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")
_QUALIFIED_NAME = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)

# The OCI distribution reference grammar (distribution/reference), pinned by digest.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::{_PORT})?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"@sha256:[a-f0-9]{64}"
)
IMAGE_NAME_MAX: Final = 255
"""The OCI distribution limit on a repository name (registry host and path together)."""


REMEMBERED_MAX: Final = 4096
"""How many verdicts each :func:`remembered` check keeps."""


def remembered(check: Callable[[str, str], None]) -> Callable[[str, Any], None]:
    """``check``, remembering its verdict on the last :data:`REMEMBERED_MAX` strings it was given.

    For checks whose verdict depends on the string alone (never on the field's name): a payload's
    images, quantities and schedules are checked by the thousand, twice each (the schema's
    format, then the model). Anything but a string goes to ``check`` itself, every time.
    """

    @functools.lru_cache(maxsize=REMEMBERED_MAX)
    def reason_for(value: str) -> str | None:
        try:
            check("value", value)
        except ValidationError as exc:
            return exc.reason
        return None

    @functools.wraps(check)
    def checked(field: str, value: Any) -> None:
        if type(value) is not str:
            check(field, value)
            return
        reason = reason_for(value)
        if reason is not None:
            raise ValidationError(field, reason)

    return checked


def fullmatch(pattern: re.Pattern[str], value: object) -> bool:
    """True when ``value`` is a string that ``pattern`` matches from its first to its last character."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _require_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    return value


def check_environment_name(field: str, value: str) -> None:
    """Environment names: RFC 1123 label, lower case, at most 30 characters."""
    if len(_require_str(field, value)) > ENVIRONMENT_NAME_MAX:
        raise ValidationError(field, f"must be at most {ENVIRONMENT_NAME_MAX} characters")
    if not fullmatch(_RFC1123_LABEL, value):
        raise ValidationError(
            field,
            "must be an RFC 1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )


def check_dns1035_label(field: str, value: str, *, max_length: int = 63) -> None:
    """DNS-1035 labels: start with a letter, lower case, at most ``max_length`` characters."""
    if len(_require_str(field, value)) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if not fullmatch(_DNS1035_LABEL, value):
        raise ValidationError(
            field,
            "must be a DNS-1035 label: lower-case letters, digits and '-', "
            "starting with a letter and ending with a letter or digit",
        )


def check_subdomain(field: str, value: str) -> None:
    """RFC 1123 subdomains (most Kubernetes object names): lower case, dots, at most 253."""
    if len(_require_str(field, value)) > 253 or not fullmatch(_RFC1123_SUBDOMAIN, value):
        raise ValidationError(field, "must be an RFC 1123 subdomain (lower case, at most 253)")


@remembered
def check_qualified_name(field: str, value: str) -> None:
    """Kubernetes qualified names (label and annotation keys): ``[prefix/]name``."""
    prefix, _, name = _require_str(field, value).rpartition("/")
    if len(prefix) > 253 or len(name) > 63 or not fullmatch(_QUALIFIED_NAME, value):
        raise ValidationError(field, "must be a Kubernetes qualified name ([prefix/]name)")


def check_hostname(field: str, value: str) -> None:
    """Hostnames: lower-case DNS names with at least two labels, optionally ``*.`` wildcard."""
    if len(_require_str(field, value)) > 253 or not fullmatch(_HOSTNAME, value):
        raise ValidationError(field, "is not a valid lower-case DNS hostname")
    if any(len(part) > 63 for part in value.split(".")):
        raise ValidationError(field, "each DNS label must be at most 63 characters")


@remembered
def check_image_reference(field: str, value: str) -> None:
    """Images are pinned by digest: ``[registry[:port]/]repository[:tag]@sha256:<64 hex>``.

    The grammar is the OCI distribution one; the port is at most 65535 and the repository name
    (registry and path) at most 255 characters.
    """
    match = _IMAGE.fullmatch(_require_str(field, value))
    if match is None:
        raise ValidationError(
            field,
            "must be an image reference pinned by digest ([registry[:port]/]repository[:tag]"
            "@sha256:<64 hex>)",
        )
    if len(match["name"]) > IMAGE_NAME_MAX:
        raise ValidationError(field, f"the repository name must be at most {IMAGE_NAME_MAX} characters")


def check_uuid(field: str, value: str) -> None:
    """UUIDs travel in canonical lower-case hyphenated form."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return  # the common case, without parsing (ids are checked by the thousand per snapshot)
    try:
        parsed = uuid.UUID(_require_str(field, value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValidationError(field, "must be a UUID") from exc
    if str(parsed) != value:
        raise ValidationError(field, "must be a UUID in canonical lower-case hyphenated form")


def check_range(field: str, value: int, *, low: int, high: int) -> None:
    """An integer inside ``[low, high]`` (``True``/``False`` and ``"3"`` are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, "must be an integer")
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}")


def check_bool(field: str, value: bool) -> None:
    """A boolean: ``true`` or ``false``, nothing that merely looks like one (``1``, ``"yes"``)."""
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")


def check_text(field: str, value: str, *, max_length: int = 253, min_length: int = 1) -> None:
    """Display text (a project's name): ``min_length``..``max_length`` characters, no control
    characters (no newline, tab or NUL)."""
    if not min_length <= len(_require_str(field, value)) <= max_length:
        raise ValidationError(field, f"must be {min_length} to {max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError(field, "must not contain control characters (newline, tab, ...)")


def check_optional(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    """``check`` for a field that may also be ``None``."""

    def optional(field: str, value: Any) -> None:
        if value is not None:
            check(field, value)

    return optional


def instance_of(kind: type, *, optional: bool = False) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: the value is a ``kind`` (or ``None`` when ``optional``)."""

    def validator(_instance: Any, attribute: Any, value: Any) -> None:
        if (value is None and optional) or isinstance(value, kind):
            return
        raise ValidationError(attribute.name, f"must be {'null or ' if optional else ''}a {kind.__name__}")

    return validator


def tuple_of(kind: type[T], field: str, value: Iterable[T]) -> tuple[T, ...]:
    """``value`` (a list or tuple, not a string or a mapping) as a tuple of ``kind`` values."""
    if not isinstance(value, list | tuple):
        raise ValidationError(field, "must be a list")
    for index, item in enumerate(value):
        if not isinstance(item, kind):
            raise ValidationError(f"{field}[{index}]", f"must be a {kind.__name__}")
    return tuple(value)


@functools.cache
def _members(kind: type[E]) -> dict[str, E]:
    return {member.value: member for member in kind}


def to_enum(kind: type[E], field: str, value: object) -> E:
    """``value`` as a member of ``kind``: a member or its exact value; anything else (another type,
    another spelling) is refused with a :class:`ValidationError` naming ``field``."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        found: E | None = _members(kind).get(value)
        if found is not None:
            return found
    raise ValidationError(field, "must be one of " + ", ".join(member.value for member in kind))


def field_check(check: Callable[[str, Any], None]) -> Callable[[Any, Any, Any], None]:
    """Adapt a ``check(field, value)`` function to an attrs validator naming the attribute."""

    def validator(_instance: Any, attribute: Any, value: Any) -> None:
        check(attribute.name, value)

    return validator
