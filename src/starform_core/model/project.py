"""Projects and their environments: one namespace per project, environments as labels."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from starform_core.errors import ValidationError
from starform_core.model.enums import Tier
from starform_core.model.service import Service
from starform_core.model.vargroup import VarGroup
from starform_core.validation import (
    check_bool,
    check_environment_name,
    check_text,
    check_uuid,
    field_check,
    to_enum,
    tuple_of,
)

__all__ = ["Environment", "Project"]


@attrs.frozen(order=True)
class Environment:
    """A customer-named environment of a project (§20.2), flagged ephemeral structurally."""

    name: str = attrs.field(validator=field_check(check_environment_name))
    is_ephemeral: bool = attrs.field(default=False, validator=field_check(check_bool))
    protected: bool = attrs.field(default=False, validator=field_check(check_bool))


def _tier(value: object) -> Tier:
    return to_enum(Tier, "tier", value)


def _environments_sorted(value: Iterable[Environment]) -> tuple[Environment, ...]:
    return tuple(sorted(tuple_of(Environment, "environments", value), key=lambda env: env.name))


def _groups_sorted(value: Iterable[VarGroup]) -> tuple[VarGroup, ...]:
    return tuple(sorted(tuple_of(VarGroup, "var_groups", value), key=lambda group: group.var_group_id))


def _services_sorted(value: Iterable[Service]) -> tuple[Service, ...]:
    services = tuple_of(Service, "services", value)
    return tuple(sorted(services, key=lambda s: (s.tenant.environment, s.name)))


@attrs.frozen
class Project:
    """A project pinned to one cluster, with its environments, var groups and services."""

    project_id: str = attrs.field(validator=field_check(check_uuid))
    workspace_id: str = attrs.field(validator=field_check(check_uuid))
    name: str = attrs.field(validator=field_check(check_text))
    tier: Tier = attrs.field(converter=_tier)
    environments: tuple[Environment, ...] = attrs.field(default=(), converter=_environments_sorted)
    var_groups: tuple[VarGroup, ...] = attrs.field(default=(), converter=_groups_sorted)
    services: tuple[Service, ...] = attrs.field(default=(), converter=_services_sorted)

    def __attrs_post_init__(self) -> None:
        env_names = {env.name for env in self.environments}
        if len(env_names) != len(self.environments):
            raise ValidationError("environments", "environment names must be unique in a project")
        groups = {group.var_group_id: group for group in self.var_groups}
        if len(groups) != len(self.var_groups):
            raise ValidationError("var_groups", "var group ids must be unique in a project")
        seen: set[tuple[str, str]] = set()
        object_names: dict[str, str] = {}
        for index, service in enumerate(self.services):
            where = f"services[{index}]"
            if service.tenant.project_id != self.project_id:
                raise ValidationError(f"{where}.project_id", "must equal the project's id")
            if service.tenant.workspace_id != self.workspace_id:
                raise ValidationError(f"{where}.workspace_id", "must equal the project's workspace")
            if service.environment not in env_names:
                raise ValidationError(f"{where}.environment", "names no environment of the project")
            identity = (service.environment, service.name)
            if identity in seen:
                raise ValidationError(f"{where}.name", "service names must be unique per environment")
            seen.add(identity)
            # the service's objects are called <service>-<environment> in the project's namespace:
            # "a-b" in "c" and "a" in "b-c" would share them
            object_name = f"{service.name}-{service.environment}"
            other = object_names.setdefault(object_name, service.service_id)
            if other != service.service_id:
                raise ValidationError(
                    f"{where}.name",
                    f"{service.name!r} in {service.environment!r} gives the object name {object_name!r}, "
                    "which another service of the project already has",
                )
            for attachment in service.var_groups:
                group = groups.get(attachment.var_group_id)
                if group is None:
                    raise ValidationError(f"{where}.var_groups", "attaches an unknown var group")
                if group.environment not in (None, service.environment):
                    raise ValidationError(
                        f"{where}.var_groups", "attaches a var group scoped to another environment"
                    )

    def environment(self, name: str) -> Environment:
        """The environment called ``name``."""
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)
