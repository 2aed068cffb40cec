"""Count limits of a project and a service (bounds.py), checked before a row is added.

A refused add is a ``422`` naming the limit. The check reads the current count first, so two
concurrent adds may overshoot a limit by one each; the limits protect payload size, not billing.
"""

from __future__ import annotations

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


def _room(field: str, count: int, limit: int, what: str) -> None:
    if count >= limit:
        raise ValidationError(field, f"{what} at most {limit}, and this one is full")


def room_for_environment(store: Store, project_id: str) -> None:
    """A project holds at most :data:`~bounds.MAX_ENVIRONMENTS_PER_PROJECT` environments."""
    count = len(store.list_environments(project_id))
    _room("name", count, bounds.MAX_ENVIRONMENTS_PER_PROJECT, "a project holds environments:")


def room_for_service(store: Store, project_id: str) -> None:
    """A project holds at most :data:`~bounds.MAX_SERVICES_PER_PROJECT` services."""
    count = len(store.list_services(project_id))
    _room("name", count, bounds.MAX_SERVICES_PER_PROJECT, "a project holds services:")


def room_for_var_group(store: Store, project_id: str) -> None:
    """A project holds at most :data:`~bounds.MAX_VAR_GROUPS_PER_PROJECT` var groups."""
    count = len(store.list_var_groups(project_id))
    _room("name", count, bounds.MAX_VAR_GROUPS_PER_PROJECT, "a project holds var groups:")


def room_for_hostname(store: Store, service_id: str) -> None:
    """A service takes at most :data:`~bounds.MAX_HOSTNAMES_PER_SERVICE` hostnames."""
    count = len(store.list_hostnames(service_id))
    _room("hostname", count, bounds.MAX_HOSTNAMES_PER_SERVICE, "a service takes hostnames:")


def room_for_volume(store: Store, service_id: str) -> None:
    """A service takes at most :data:`~bounds.MAX_VOLUMES_PER_SERVICE` volumes."""
    count = len(store.list_volumes(service_id))
    _room("name", count, bounds.MAX_VOLUMES_PER_SERVICE, "a service takes volumes:")
