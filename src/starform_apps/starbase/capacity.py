"""Count limits of a project and a service (bounds.py), checked before a row is added.

A refused add is a ``422`` naming the limit. The check reads the current count first, so two
concurrent adds may overshoot a limit by one each; the limits protect payload size, not billing.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import TypeVar

from starform_apps.starbase import bounds
from starform_core.errors import ValidationError
from starform_core.ports import EnvironmentStore, ServiceStore, VarGroupStore

__all__ = [
    "room_for_environment",
    "room_for_hostname",
    "room_for_service",
    "room_for_var_group",
    "room_for_volume",
]


def _room(field: str, rows: Sized, limit: int, what: str) -> None:
    if len(rows) >= limit:
        raise ValidationError(field, f"{what} at most {limit}, and this one is full")


P = TypeVar("P")


def _checker(field: str, limit: int, what: str, rows: Callable[[P, str], Sized]) -> Callable[[P, str], None]:
    def check(port: P, owner_id: str) -> None:
        _room(field, rows(port, owner_id), limit, what)

    check.__doc__ = f"Refuse a new row when {what} at most {limit} already."
    return check


room_for_environment: Callable[[EnvironmentStore, str], None] = _checker(
    "name",
    bounds.MAX_ENVIRONMENTS_PER_PROJECT,
    "a project holds environments:",
    lambda port, owner: port.list_environments(owner),
)
"""A project holds at most :data:`~bounds.MAX_ENVIRONMENTS_PER_PROJECT` environments."""

room_for_service: Callable[[ServiceStore, str], None] = _checker(
    "name",
    bounds.MAX_SERVICES_PER_PROJECT,
    "a project holds services:",
    lambda port, owner: port.list_services(owner),
)
"""A project holds at most :data:`~bounds.MAX_SERVICES_PER_PROJECT` services."""

room_for_var_group: Callable[[VarGroupStore, str], None] = _checker(
    "name",
    bounds.MAX_VAR_GROUPS_PER_PROJECT,
    "a project holds var groups:",
    lambda port, owner: port.list_var_groups(owner),
)
"""A project holds at most :data:`~bounds.MAX_VAR_GROUPS_PER_PROJECT` var groups."""

room_for_hostname: Callable[[ServiceStore, str], None] = _checker(
    "hostname",
    bounds.MAX_HOSTNAMES_PER_SERVICE,
    "a service takes hostnames:",
    lambda port, owner: port.list_hostnames(owner),
)
"""A service takes at most :data:`~bounds.MAX_HOSTNAMES_PER_SERVICE` hostnames."""

room_for_volume: Callable[[ServiceStore, str], None] = _checker(
    "name",
    bounds.MAX_VOLUMES_PER_SERVICE,
    "a service takes volumes:",
    lambda port, owner: port.list_volumes(owner),
)
"""A service takes at most :data:`~bounds.MAX_VOLUMES_PER_SERVICE` volumes."""
