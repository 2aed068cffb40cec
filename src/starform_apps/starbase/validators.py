"""Field types of the request bodies: each one a whole-string (``fullmatch``) rule and a bound.

Python's ``$`` matches before a final ``\\n``, so every rule here uses :func:`re.fullmatch`.
Messages describe the rule, never the submitted value (it may be secret). The core model
validates again when a row is folded into the payload; these types refuse bad input at the
edge, before anything touches the database, and the database ``CHECK`` constraints of migration
``0005_security`` refuse the same values for any writer.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, Field, Strict

from starform_apps.starbase import bounds
from starform_core.kube.pod_images import IMAGES_MAX, image_problem

__all__ = [
    "AgentTimestamp",
    "ApiVersion",
    "Argument",
    "Cidr",
    "CronExpression",
    "DisplayName",
    "DnsLabel",
    "DriftIgnorePath",
    "Email",
    "HostnameText",
    "JsonObject",
    "KindName",
    "ObservedSnapshot",
    "ProbePath",
    "QualifiedName",
    "Quantity",
    "Rfc1123Label",
    "SmallInt",
    "StrictBool",
    "Subdomain",
    "TimeZoneName",
    "VarEntries",
    "check_agent_timestamp",
    "check_json_object",
    "check_observed_snapshot",
    "check_var_entries",
]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_RFC1123 = re.compile(_LABEL)
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_QUALIFIED = re.compile(rf"({_LABEL}(\.{_LABEL})*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_KIND = re.compile(r"[A-Z][A-Za-z0-9]{0,62}")
_API_VERSION = re.compile(rf"({_LABEL}(\.{_LABEL})*/)?v[1-9][0-9]{{0,3}}((alpha|beta)[1-9][0-9]{{0,3}})?")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
_HOSTNAME = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})+")
_QUANTITY = re.compile(
    r"\+?(?P<number>[0-9]{1,19}(\.[0-9]{0,19})?|\.[0-9]{1,19})"
    r"((?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE](?P<exp>[+-]?[0-9]{1,2}))?"
)
_CRON_MACRO = re.compile(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)")
_CRON_FIELD = r"[0-9A-Za-z*?,/-]{1,64}"
_CRON = re.compile(rf"{_CRON_FIELD}( {_CRON_FIELD}){{4}}")
_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}")
_PROBE_PATH = re.compile(r"/[\x21-\x7e]{0,1023}")
_DRIFT_PATH = re.compile(r"[A-Z][A-Za-z0-9]{0,62}:(/([^/~\x00-\x20\x7f]|~[01])*)+")
_VAR_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_QUANTITY = Decimal(2) ** 63 - 1


def _rule(pattern: re.Pattern[str], message: str, *, max_length: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value

    return check


def _display_name(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (newlines, tabs, NUL)")
    if value != value.strip():
        raise ValueError("must not start or end with white space")
    return value


def _quantity(value: str) -> str:
    match = _QUANTITY.fullmatch(value)
    if match is None:
        raise ValueError("must be a Kubernetes quantity such as 250m, 0.5, 512Mi or 2Gi")
    try:
        number = Decimal(match["number"])
        scale = Decimal(10) ** int(match["exp"]) if match["exp"] else Decimal(1)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise ValueError("must be a Kubernetes quantity") from exc
    if number * scale > _MAX_QUANTITY:
        raise ValueError("is larger than a Kubernetes quantity can hold (2^63 - 1)")
    return value


def _cron(value: str) -> str:
    if len(value) > 200:
        raise ValueError("must be at most 200 characters")
    if not (_CRON_MACRO.fullmatch(value) or _CRON.fullmatch(value)):
        raise ValueError("must be five cron fields separated by single spaces, or a macro such as @daily")
    return value


def _time_zone(value: str) -> str:
    if len(value) > 64 or not _TIME_ZONE.fullmatch(value):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin or UTC")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError("is not a time zone of the IANA time zone database") from exc
    return value


def _cidr(value: str) -> str:
    if len(value) > 49:
        raise ValueError("must be at most 49 characters")
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError("is not a network in CIDR form such as 10.110.0.0/20 (host bits zero)") from exc
    return value


def _argument(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def check_agent_timestamp(value: datetime) -> datetime:
    """A time an agent observed something: aware, after 2000, at most the skew window ahead."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a time zone offset (for example 2026-01-01T00:00:00Z)")
    if value < bounds.EARLIEST_TIMESTAMP:
        raise ValueError(f"must not be before {bounds.EARLIEST_TIMESTAMP.isoformat()}")
    latest = datetime.now(UTC) + timedelta(seconds=bounds.CLOCK_SKEW_SECONDS)
    if value > latest:
        raise ValueError(
            f"is more than {bounds.CLOCK_SKEW_SECONDS} s ahead of Starbase's clock (check the agent's clock)"
        )
    return value.astimezone(UTC)


def _depth_and_size(value: Any) -> tuple[int, int]:
    """Nesting depth and a cheap size estimate of a JSON value, without recursion."""
    depth = 0
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        depth = max(depth, level)
        if isinstance(item, dict):
            size += 2
            for key, child in item.items():
                size += len(str(key)) + 4
                stack.append((child, level + 1))
        elif isinstance(item, list):
            size += 2
            stack.extend((child, level + 1) for child in item)
        else:
            size += len(str(item)) + 3
    return depth, size


def check_json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A free-form JSON object an agent reports: bounded depth and size."""
    depth, size = _depth_and_size(value)
    if depth > bounds.MAX_REPORT_JSON_DEPTH:
        raise ValueError(f"is nested {depth} levels deep; at most {bounds.MAX_REPORT_JSON_DEPTH} allowed")
    if size > bounds.MAX_REPORT_JSON_BYTES:
        raise ValueError(f"is about {size} bytes; at most {bounds.MAX_REPORT_JSON_BYTES} bytes allowed")
    return value


def check_observed_snapshot(value: dict[str, Any]) -> dict[str, Any]:
    """An object's observed snapshot: a bounded JSON object whose ``images``, when present, map
    at most :data:`~starform_core.kube.pod_images.IMAGES_MAX` container names to images."""
    check_json_object(value)
    images = value.get("images")
    if images is None:
        return value
    if not isinstance(images, dict):
        raise ValueError("images must map container names to image references")
    if len(images) > IMAGES_MAX:
        raise ValueError(f"images lists {len(images)} containers; at most {IMAGES_MAX} allowed")
    for name, image in images.items():
        problem = image_problem(name, image)
        if problem is not None:
            raise ValueError(f"images: {problem}")
    return value


def _ordinal(index: int) -> str:
    return f"key #{index + 1}"


def check_var_entries(value: dict[str, str]) -> dict[str, str]:
    """Var group entries: environment-variable keys, text values, at most what a Secret holds."""
    total = 0
    for index, (key, text) in enumerate(value.items()):
        if len(key) > bounds.MAX_VAR_KEY_LENGTH or not _VAR_KEY.fullmatch(key):
            raise ValueError(
                f"{_ordinal(index)} is not an environment variable name (letters, digits and _, "
                f"not starting with a digit, at most {bounds.MAX_VAR_KEY_LENGTH} characters)"
            )
        if "\x00" in text:
            raise ValueError(f"the value of {key} contains a NUL character")
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > bounds.MAX_VAR_GROUP_BYTES:
            raise ValueError(
                f"the value of {key} is {size} bytes; a var group holds at most "
                f"{bounds.MAX_VAR_GROUP_BYTES} bytes (what fits in a Kubernetes Secret)"
            )
        total += len(key) + size
    if total > bounds.MAX_VAR_GROUP_BYTES:
        raise ValueError(
            f"keys and values add up to {total} bytes; a var group holds at most "
            f"{bounds.MAX_VAR_GROUP_BYTES} bytes (what fits in a Kubernetes Secret)"
        )
    return value


StrictBool = Annotated[bool, Strict()]
"""``true``/``false`` only (no ``"true"``, no ``1``)."""

SmallInt = Annotated[int, Strict(), Field(ge=-(2**31), le=2**31 - 1)]
"""A JSON integer (no ``"3"``, no ``true``, no ``3.0``) that fits a 32-bit column."""

DnsLabel = Annotated[
    str, AfterValidator(_rule(_DNS1035, "must be a DNS-1035 label: a-z, 0-9 and '-'", max_length=63))
]
"""A DNS-1035 label: starts with a letter, lower case, at most 63 characters."""

Rfc1123Label = Annotated[
    str,
    AfterValidator(_rule(_RFC1123, "must be an RFC 1123 label: a-z, 0-9 and '-'", max_length=63)),
]
"""An RFC 1123 label (a namespace name): at most 63 characters."""

Subdomain = Annotated[
    str,
    AfterValidator(
        _rule(_SUBDOMAIN, "must be an RFC 1123 subdomain: labels of a-z, 0-9 and '-'", max_length=253)
    ),
]
"""An RFC 1123 subdomain (most Kubernetes object names): at most 253 characters."""

QualifiedName = Annotated[
    str,
    AfterValidator(_rule(_QUALIFIED, "must be a Kubernetes qualified name ([prefix/]name)", max_length=316)),
]
"""A Kubernetes annotation or label key."""

KindName = Annotated[
    str, AfterValidator(_rule(_KIND, "must be a Kubernetes kind such as Service", max_length=63))
]
"""A Kubernetes kind."""

ApiVersion = Annotated[
    str,
    AfterValidator(
        _rule(_API_VERSION, "must be a Kubernetes apiVersion such as v1 or apps/v1", max_length=253)
    ),
]
"""A Kubernetes ``apiVersion``."""

Email = Annotated[
    str, AfterValidator(_rule(_EMAIL, "must be an email address (local@domain)", max_length=254))
]
"""An email address (one ``@``, no white space or control characters)."""

HostnameText = Annotated[
    str,
    AfterValidator(
        _rule(_HOSTNAME, "must be a lower-case DNS hostname such as shop.example.com", max_length=253)
    ),
]
"""A lower-case DNS hostname, optionally a ``*.`` wildcard."""

DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_display_name)]
"""A human-readable name: 1-100 characters, no control characters, no outer white space."""

Quantity = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_quantity)]
"""A Kubernetes quantity (``250m``, ``512Mi``, ``1e3``) no larger than 2^63 - 1."""

CronExpression = Annotated[str, AfterValidator(_cron)]
"""A five-field cron expression or a macro (the core checks each field's range)."""

TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
"""A name of the IANA time zone database."""

ProbePath = Annotated[
    str,
    AfterValidator(
        _rule(_PROBE_PATH, "must be an absolute path of printable ASCII such as /healthz", max_length=1024)
    ),
]
"""An HTTP probe path."""

DriftIgnorePath = Annotated[
    str,
    AfterValidator(
        _rule(_DRIFT_PATH, "must look like Deployment:/spec/replicas (kind:pointer)", max_length=512)
    ),
]
"""A drift rule: ``Kind:/json/pointer``."""

Cidr = Annotated[str, AfterValidator(_cidr)]
"""A network in CIDR form (IPv4 or IPv6, host bits zero)."""

Argument = Annotated[str, Field(max_length=bounds.MAX_ARGUMENT_LENGTH), AfterValidator(_argument)]
"""One command or argument string of a container."""

AgentTimestamp = Annotated[datetime, AfterValidator(check_agent_timestamp)]
"""A timestamp from an agent, bounded by the clock-skew window."""

JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_object)]
"""A free-form JSON object of bounded depth and size."""

ObservedSnapshot = Annotated[dict[str, Any], AfterValidator(check_observed_snapshot)]
"""The small observed snapshot of one managed object (bounded; ``images`` checked)."""

VarEntries = Annotated[
    dict[str, str],
    Field(max_length=bounds.MAX_VAR_ENTRIES),
    AfterValidator(check_var_entries),
]
"""Var group entries (key → value), at most what fits in a Kubernetes Secret."""
