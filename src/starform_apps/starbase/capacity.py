"""Count limits of a project and a service (bounds.py), checked before a row is added.

A refused add is a ``422`` naming the limit. The check reads the current count first, so two
concurrent adds may overshoot a limit by one each; the limits protect payload size, not billing.
"""

from __future__ import annotations

from collections.abc import Callable, Sized

from starform_apps.starbase import bounds
from starform_core.errors import ValidationError
from starform_core.ports.store import Store

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


def _checker(
    field: str, limit: int, what: str, rows: Callable[[Store, str], Sized]
) -> Callable[[Store, str], None]:
    def check(store: Store, owner_id: str) -> None:
        _room(field, rows(store, owner_id), limit, what)

    check.__doc__ = f"Refuse a new row when {what} at most {limit} already."
    return check


room_for_environment = _checker(
    "name",
    bounds.MAX_ENVIRONMENTS_PER_PROJECT,
    "a project holds environments:",
    lambda store, owner: store.list_environments(owner),
)
"""A project holds at most :data:`~bounds.MAX_ENVIRONMENTS_PER_PROJECT` environments."""

room_for_service = _checker(
    "name",
    bounds.MAX_SERVICES_PER_PROJECT,
    "a project holds services:",
    lambda store, owner: store.list_services(owner),
)
"""A project holds at most :data:`~bounds.MAX_SERVICES_PER_PROJECT` services."""

room_for_var_group = _checker(
    "name",
    bounds.MAX_VAR_GROUPS_PER_PROJECT,
    "a project holds var groups:",
    lambda store, owner: store.list_var_groups(owner),
)
"""A project holds at most :data:`~bounds.MAX_VAR_GROUPS_PER_PROJECT` var groups."""

room_for_hostname = _checker(
    "hostname",
    bounds.MAX_HOSTNAMES_PER_SERVICE,
    "a service takes hostnames:",
    lambda store, owner: store.list_hostnames(owner),
)
"""A service takes at most :data:`~bounds.MAX_HOSTNAMES_PER_SERVICE` hostnames."""

room_for_volume = _checker(
    "name",
    bounds.MAX_VOLUMES_PER_SERVICE,
    "a service takes volumes:",
    lambda store, owner: store.list_volumes(owner),
)
"""A service takes at most :data:`~bounds.MAX_VOLUMES_PER_SERVICE` volumes."""
