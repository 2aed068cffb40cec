"""A service in one environment: what it runs and how it is reached."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from starform_core.errors import ValidationError
from starform_core.model.enums import RunState, ServiceType
from starform_core.model.tenant import TenantKey
from starform_core.model.vargroup import VarGroupAttachment
from starform_core.model.workload import (
    Autoscaling,
    CronSchedule,
    DriftPolicy,
    Probes,
    Release,
    Resources,
    Volume,
)
from starform_core.validation import (
    SERVICE_NAME_MAX,
    check_bool,
    check_dns1035_label,
    check_hostname,
    check_range,
    field_check,
    instance_of,
    to_enum,
    tuple_of,
)

__all__ = ["Service"]


def _check_name(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_dns1035_label(attribute.name, value, max_length=SERVICE_NAME_MAX)


def _sorted_attachments(value: Iterable[VarGroupAttachment]) -> tuple[VarGroupAttachment, ...]:
    return tuple(sorted(tuple_of(VarGroupAttachment, "var_groups", value)))


def _volumes(value: Iterable[Volume]) -> tuple[Volume, ...]:
    return tuple_of(Volume, "volumes", value)


def _hostnames(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(tuple_of(str, "hostnames", value))))


def _service_type(value: object) -> ServiceType:
    return to_enum(ServiceType, "type", value)


def _run_state(value: object) -> RunState:
    return to_enum(RunState, "state", value)


def _optional_int_in(
    low: int, high: int
) -> Callable[[object, attrs.Attribute[int | None], int | None], None]:
    def validator(_instance: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None:
            check_range(attribute.name, value, low=low, high=high)

    return validator


@attrs.frozen
class Service:
    """One service of a project environment, with its full tenant key.

    Rules by type: a ``web`` service has a ``port`` (and usually hostnames); a ``cron`` service
    has a ``cron`` schedule and no port, hostnames, replicas or autoscaling; ``replicas`` and
    ``autoscaling`` are exclusive. ``public`` web services get an HTTPRoute; private services are
    reachable only from their own environment. ``release`` is ``None`` until the first deploy.
    """

    tenant: TenantKey = attrs.field(validator=instance_of(TenantKey))
    name: str = attrs.field(validator=_check_name)
    type: ServiceType = attrs.field(converter=_service_type)
    state: RunState = attrs.field(converter=_run_state)
    resources: Resources = attrs.field(validator=instance_of(Resources))
    release: Release | None = attrs.field(default=None, validator=instance_of(Release, optional=True))
    replicas: int | None = attrs.field(
        default=None,
        validator=_optional_int_in(0, 100),
    )
    autoscaling: Autoscaling | None = attrs.field(
        default=None, validator=instance_of(Autoscaling, optional=True)
    )
    probes: Probes = attrs.field(factory=Probes, validator=instance_of(Probes))
    port: int | None = attrs.field(
        default=None,
        validator=_optional_int_in(1, 65535),
    )
    hostnames: tuple[str, ...] = attrs.field(default=(), converter=_hostnames)
    public: bool = attrs.field(default=True, validator=field_check(check_bool))
    cron: CronSchedule | None = attrs.field(default=None, validator=instance_of(CronSchedule, optional=True))
    volumes: tuple[Volume, ...] = attrs.field(default=(), converter=_volumes)
    var_groups: tuple[VarGroupAttachment, ...] = attrs.field(default=(), converter=_sorted_attachments)
    drift: DriftPolicy = attrs.field(factory=DriftPolicy, validator=instance_of(DriftPolicy))

    def __attrs_post_init__(self) -> None:
        for index, hostname in enumerate(self.hostnames):
            check_hostname(f"hostnames[{index}]", hostname)
        if self.replicas is not None and self.autoscaling is not None:
            raise ValidationError("replicas", "set either replicas or autoscaling, not both")
        if self.type is ServiceType.WEB and self.port is None:
            raise ValidationError("port", "a web service needs a port")
        if self.type is not ServiceType.WEB and self.hostnames:
            raise ValidationError("hostnames", f"a {self.type.value} service takes no hostnames")
        if self.type is ServiceType.WEB and self.hostnames and not self.public:
            raise ValidationError("hostnames", "a private web service takes no public hostnames")
        if self.type is ServiceType.CRON:
            if self.cron is None:
                raise ValidationError("cron", "a cron service needs a schedule")
            for field in ("port", "replicas", "autoscaling"):
                if getattr(self, field) is not None:
                    raise ValidationError(field, "a cron service takes no " + field)
            if self.probes != Probes():
                raise ValidationError("probes", "a cron service takes no probes")
        elif self.cron is not None:
            raise ValidationError("cron", f"a {self.type.value} service takes no schedule")
        names = [volume.name for volume in self.volumes]
        paths = [volume.mount_path for volume in self.volumes]
        if len(set(names)) != len(names):
            raise ValidationError("volumes", "volume names must be unique within a service")
        if len(set(paths)) != len(paths):
            raise ValidationError("volumes", "mount paths must be unique within a service")
        orders = [attachment.attach_order for attachment in self.var_groups]
        groups = [attachment.var_group_id for attachment in self.var_groups]
        if len(set(orders)) != len(orders) or len(set(groups)) != len(groups):
            raise ValidationError(
                "var_groups", "each var group attaches once, each attach_order is used once"
            )

    @property
    def service_id(self) -> str:
        """The service's id (from its tenant key)."""
        return self.tenant.service_id

    @property
    def environment(self) -> str:
        """The environment the service runs in (from its tenant key)."""
        return self.tenant.environment
