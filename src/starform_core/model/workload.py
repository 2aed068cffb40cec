"""How a service's containers run: release, resources, scaling, probes, schedule, volumes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import attrs

from starform_core.errors import ValidationError
from starform_core.model.enums import AccessMode, DriftMode, ProbeKind
from starform_core.model.schedule import check_cron_schedule, check_time_zone
from starform_core.quantity import check_quantity, parse_quantity
from starform_core.validation import (
    CONTROL_CHARACTERS,
    check_dns1035_label,
    check_image_reference,
    check_optional,
    check_range,
    field_check,
    fullmatch,
    instance_of,
    to_enum,
    tuple_of,
)

__all__ = [
    "Autoscaling",
    "CronSchedule",
    "DriftPolicy",
    "Probe",
    "Probes",
    "Release",
    "Resources",
    "RevertField",
    "Volume",
]

_HTTP_PATH = re.compile(r"/[\x21-\x7e]*")
_FIELD_RULE = re.compile(r"[A-Z][A-Za-z0-9]*:(/([^/~\x00-\x1f\x7f]|~[01])*)+")
_GRPC_SERVICE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
PATH_MAX: Final = 1024
"""The longest mount path, probe path or ignore rule."""
ARGUMENT_MAX: Final = 100
"""The most ``command`` or ``args`` items of a release."""


def _int_in(low: int, high: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def validator(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        check_range(attribute.name, value, low=low, high=high)

    return validator


def _optional_quantity(_instance: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        check_quantity(attribute.name, value)


def _arguments(field: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    arguments = tuple_of(str, field, value)  # type: ignore[arg-type]
    if len(arguments) > ARGUMENT_MAX:
        raise ValidationError(field, f"must have at most {ARGUMENT_MAX} items")
    return arguments


def _command(value: object) -> tuple[str, ...] | None:
    return _arguments("command", value)


def _args(value: object) -> tuple[str, ...] | None:
    return _arguments("args", value)


def _probe_kind(value: object) -> ProbeKind:
    return to_enum(ProbeKind, "kind", value)


def _access_mode(value: object) -> AccessMode:
    return to_enum(AccessMode, "access_mode", value)


def _drift_mode(value: object) -> DriftMode:
    return to_enum(DriftMode, "mode", value)


def _ignore_rules(value: object) -> tuple[str, ...]:
    return tuple_of(str, "ignore_fields", value)  # type: ignore[arg-type]


def _check_grpc_service(field: str, value: str) -> None:
    if not fullmatch(_GRPC_SERVICE, value) or len(value) > 253:
        raise ValidationError(field, "must be a gRPC service name such as 'orders.v1.Orders'")


@attrs.frozen
class Release:
    """The deployment a service runs: a monotonic version and an image pinned by digest.

    ``command``/``args`` override the image's entrypoint and arguments (the start command).
    """

    version: int = attrs.field(validator=_int_in(1, 2**31 - 1))
    image: str = attrs.field(validator=field_check(check_image_reference))
    command: tuple[str, ...] | None = attrs.field(default=None, converter=_command)
    args: tuple[str, ...] | None = attrs.field(default=None, converter=_args)


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

    kind: ProbeKind = attrs.field(converter=_probe_kind)
    port: int = attrs.field(validator=_int_in(1, 65535))
    path: str | None = None
    grpc_service: str | None = attrs.field(
        default=None, validator=field_check(check_optional(_check_grpc_service))
    )
    initial_delay_seconds: int = attrs.field(default=0, validator=_int_in(0, 3600))
    period_seconds: int = attrs.field(default=10, validator=_int_in(1, 3600))
    timeout_seconds: int = attrs.field(default=1, validator=_int_in(1, 3600))
    failure_threshold: int = attrs.field(default=3, validator=_int_in(1, 1000))

    def __attrs_post_init__(self) -> None:
        if self.kind is ProbeKind.HTTP:
            if not fullmatch(_HTTP_PATH, self.path) or len(self.path or "") > PATH_MAX:
                raise ValidationError("path", "an HTTP probe needs an absolute path such as /healthz")
        elif self.path is not None:
            raise ValidationError("path", f"a {self.kind.value} probe takes no path")
        if self.grpc_service is not None and self.kind is not ProbeKind.GRPC:
            raise ValidationError("grpc_service", "only a gRPC probe names a gRPC service")


@attrs.frozen
class Probes:
    """The startup, liveness and readiness probes of a service's main container."""

    startup: Probe | None = attrs.field(default=None, validator=instance_of(Probe, optional=True))
    liveness: Probe | None = attrs.field(default=None, validator=instance_of(Probe, optional=True))
    readiness: Probe | None = attrs.field(default=None, validator=instance_of(Probe, optional=True))


@attrs.frozen
class CronSchedule:
    """When a cron service runs: a five-field cron expression (or macro) in a time zone."""

    schedule: str = attrs.field(validator=field_check(check_cron_schedule))
    time_zone: str = attrs.field(default="UTC", validator=field_check(check_time_zone))


@attrs.frozen
class Volume:
    """A persistent volume mounted into the service's containers."""

    name: str = attrs.field(validator=lambda _i, a, v: check_dns1035_label(a.name, v, max_length=30))
    mount_path: str = attrs.field()
    size: str = attrs.field(validator=field_check(check_quantity))
    access_mode: AccessMode = attrs.field(default=AccessMode.READ_WRITE_ONCE, converter=_access_mode)

    @mount_path.validator
    def _check_mount_path(self, _attribute: object, value: str) -> None:
        if (
            not isinstance(value, str)
            or not value.startswith("/")
            or ":" in value
            or CONTROL_CHARACTERS.search(value)
            or len(value) > PATH_MAX
        ):
            raise ValidationError(
                "mount_path",
                f"must be an absolute path without ':' or control characters (at most {PATH_MAX})",
            )


REVERT_MAX: Final = 100
"""The most rejected values one service's policy lists for Shuttle to revert."""
REVERT_VALUE_MAX: Final = 1024
"""The longest rejected value (compact JSON) a revert entry carries."""
_CONCRETE_FIELD = re.compile(r"[A-Z][A-Za-z0-9]*:(/([^/~*\x00-\x1f\x7f]|~[01])*)+")


@attrs.frozen(order=True)
class RevertField:
    """A rejected out-of-band value (an adoption Starbase refused): Shuttle reverts ``field``
    whenever it holds exactly ``live`` (compact JSON), even under the ``adopt`` policy.

    ``field`` is a concrete ``Kind:/json/pointer`` (no ``*``) into the rendered object; only the
    fields adoption covers are listed, none of which ever holds a secret.
    """

    field: str
    live: str

    def __attrs_post_init__(self) -> None:
        if (
            not isinstance(self.field, str)
            or not fullmatch(_CONCRETE_FIELD, self.field)
            or len(self.field) > PATH_MAX
        ):
            raise ValidationError("field", "must look like 'Deployment:/spec/replicas' (no '*')")
        if not isinstance(self.live, str) or not self.live or len(self.live) > REVERT_VALUE_MAX:
            raise ValidationError("live", f"must be compact JSON of 1 to {REVERT_VALUE_MAX} characters")
        if CONTROL_CHARACTERS.search(self.live):
            raise ValidationError("live", "must be compact JSON without control characters")


def _reverts(value: object) -> tuple[RevertField, ...]:
    items = tuple(sorted(set(tuple_of(RevertField, "revert", value))))  # type: ignore[arg-type]
    if len(items) > REVERT_MAX:
        raise ValidationError("revert", f"must have at most {REVERT_MAX} items")
    return items


@attrs.frozen
class DriftPolicy:
    """How out-of-band changes to this service's objects are treated (seed 004).

    ``ignore_fields`` lists ``Kind:/json/pointer`` paths (``*`` matches one list item or key)
    that Shuttle neither applies nor reports; the autoscaler's ``spec.replicas`` is always ignored
    when autoscaling is on. ``revert`` lists rejected adoptions (``adopt`` mode): values Shuttle
    reverts although the mode leaves the field's drift alone otherwise.
    """

    mode: DriftMode = attrs.field(default=DriftMode.ENFORCE, converter=_drift_mode)
    ignore_fields: tuple[str, ...] = attrs.field(default=(), converter=_ignore_rules)
    revert: tuple[RevertField, ...] = attrs.field(default=(), converter=_reverts)

    @ignore_fields.validator
    def _check_ignore_fields(self, _attribute: object, value: tuple[str, ...]) -> None:
        for index, rule in enumerate(value):
            if not fullmatch(_FIELD_RULE, rule) or len(rule) > PATH_MAX:
                raise ValidationError(f"ignore_fields[{index}]", "must look like 'Deployment:/spec/replicas'")
