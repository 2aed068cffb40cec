"""How a service's containers run: release, resources, scaling, probes, schedule, volumes."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from starform_core.convert import as_str_tuple
from starform_core.errors import ValidationError
from starform_core.model.enums import AccessMode, DriftMode, ProbeKind
from starform_core.quantity import check_quantity, parse_quantity
from starform_core.validation import (
    check_dns1035_label,
    check_image_reference,
    check_range,
    field_check,
)

__all__ = [
    "Autoscaling",
    "CronSchedule",
    "DriftPolicy",
    "Probe",
    "Probes",
    "Release",
    "Resources",
    "Volume",
]

_CRON_FIELD = r"[0-9*,/\-A-Za-z?]+"
_CRON = re.compile(
    rf"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|{_CRON_FIELD}(\s+{_CRON_FIELD}){{4}})$"
)
_TIME_ZONE = re.compile(r"^(UTC|[A-Za-z][A-Za-z_+\-]*(/[A-Za-z0-9_+\-]+){0,2})$")
_MOUNT_PATH = re.compile(r"^/[^\0]*$")
_HTTP_PATH = re.compile(r"^/[\x21-\x7e]*$")
_FIELD_RULE = re.compile(r"^[A-Z][A-Za-z0-9]*:(/([^/~]|~[01])*)+$")


def _int_in(low: int, high: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def validator(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        check_range(attribute.name, value, low=low, high=high)

    return validator


def _optional_quantity(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        check_quantity(attribute.name, value)


def _tuple_of_str(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ValidationError("command", "must be a list of strings, not a string")
    return tuple(str(v) for v in value)  # type: ignore[attr-defined]


@attrs.frozen
class Release:
    """The deployment a service runs: a monotonic version and an image pinned by digest.

    ``command``/``args`` override the image's entrypoint and arguments (the start command).
    """

    version: int = attrs.field(validator=_int_in(1, 2**31 - 1))
    image: str = attrs.field(validator=field_check(check_image_reference))
    command: tuple[str, ...] | None = attrs.field(default=None, converter=_tuple_of_str)
    args: tuple[str, ...] | None = attrs.field(default=None, converter=_tuple_of_str)


@attrs.frozen
class Resources:
    """CPU and memory requests and (optional) limits, as Kubernetes quantities."""

    cpu_request: str = attrs.field(validator=field_check(check_quantity))
    memory_request: str = attrs.field(validator=field_check(check_quantity))
    cpu_limit: str | None = attrs.field(default=None, validator=_optional_quantity)
    memory_limit: str | None = attrs.field(default=None, validator=_optional_quantity)

    def __attrs_post_init__(self) -> None:
        for request, limit, name in (
            (self.cpu_request, self.cpu_limit, "cpu_limit"),
            (self.memory_request, self.memory_limit, "memory_limit"),
        ):
            if limit is not None and parse_quantity(limit) < parse_quantity(request):
                raise ValidationError(name, "must not be below the request")


@attrs.frozen
class Autoscaling:
    """Horizontal autoscaling on CPU and/or memory utilisation (metrics-server, §39.1 #9)."""

    min_replicas: int = attrs.field(validator=_int_in(1, 100))
    max_replicas: int = attrs.field(validator=_int_in(1, 100))
    target_cpu_percent: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_int_in(1, 1000))
    )
    target_memory_percent: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_int_in(1, 1000))
    )
    scale_down_cooldown_seconds: int = attrs.field(default=300, validator=_int_in(0, 3600))

    def __attrs_post_init__(self) -> None:
        if self.max_replicas < self.min_replicas:
            raise ValidationError("max_replicas", "must be at least min_replicas")
        if self.target_cpu_percent is None and self.target_memory_percent is None:
            raise ValidationError("target_cpu_percent", "autoscaling needs a CPU or a memory target")


@attrs.frozen
class Probe:
    """One health probe: HTTP GET on a path, a TCP connect, or a gRPC health check."""

    kind: ProbeKind = attrs.field(converter=ProbeKind)
    port: int = attrs.field(validator=_int_in(1, 65535))
    path: str | None = None
    grpc_service: str | None = None
    initial_delay_seconds: int = attrs.field(default=0, validator=_int_in(0, 3600))
    period_seconds: int = attrs.field(default=10, validator=_int_in(1, 3600))
    timeout_seconds: int = attrs.field(default=1, validator=_int_in(1, 3600))
    failure_threshold: int = attrs.field(default=3, validator=_int_in(1, 1000))

    def __attrs_post_init__(self) -> None:
        if self.kind is ProbeKind.HTTP:
            if self.path is None or not _HTTP_PATH.match(self.path):
                raise ValidationError("path", "an HTTP probe needs an absolute path such as /healthz")
        elif self.path is not None:
            raise ValidationError("path", f"a {self.kind.value} probe takes no path")
        if self.grpc_service is not None and self.kind is not ProbeKind.GRPC:
            raise ValidationError("grpc_service", "only a gRPC probe names a gRPC service")


@attrs.frozen
class Probes:
    """The startup, liveness and readiness probes of a service's main container."""

    startup: Probe | None = None
    liveness: Probe | None = None
    readiness: Probe | None = None


@attrs.frozen
class CronSchedule:
    """When a cron service runs: a five-field cron expression (or macro) in a time zone."""

    schedule: str = attrs.field()
    time_zone: str = attrs.field(default="UTC")

    @schedule.validator
    def _check_schedule(self, _attribute: object, value: str) -> None:
        if not _CRON.match(value.strip()) or value != value.strip():
            raise ValidationError("schedule", f"{value!r} is not a cron expression")

    @time_zone.validator
    def _check_time_zone(self, _attribute: object, value: str) -> None:
        if not _TIME_ZONE.match(value):
            raise ValidationError("time_zone", f"{value!r} is not an IANA time zone name")


@attrs.frozen
class Volume:
    """A persistent volume mounted into the service's containers."""

    name: str = attrs.field(validator=lambda _i, a, v: check_dns1035_label(a.name, v, max_length=30))
    mount_path: str = attrs.field()
    size: str = attrs.field(validator=field_check(check_quantity))
    access_mode: AccessMode = attrs.field(default=AccessMode.READ_WRITE_ONCE, converter=AccessMode)

    @mount_path.validator
    def _check_mount_path(self, _attribute: object, value: str) -> None:
        if not _MOUNT_PATH.match(value) or ":" in value or len(value) > 1024:
            raise ValidationError("mount_path", "must be an absolute path without ':'")


@attrs.frozen
class DriftPolicy:
    """How out-of-band changes to this service's objects are treated (seed 004).

    ``ignore_fields`` lists ``Kind:/json/pointer`` paths (``*`` matches one list item or key)
    that Shuttle neither applies nor reports; the autoscaler's ``spec.replicas`` is always ignored
    when autoscaling is on.
    """

    mode: DriftMode = attrs.field(default=DriftMode.ENFORCE, converter=DriftMode)
    ignore_fields: tuple[str, ...] = attrs.field(default=(), converter=as_str_tuple)

    @ignore_fields.validator
    def _check_ignore_fields(self, _attribute: object, value: tuple[str, ...]) -> None:
        for index, rule in enumerate(value):
            if not isinstance(rule, str) or not _FIELD_RULE.match(rule):
                raise ValidationError(f"ignore_fields[{index}]", "must look like 'Deployment:/spec/replicas'")
