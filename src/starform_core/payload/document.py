"""The desired-state document (§25.1): one per cluster, versioned, deterministic."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from starform_core.errors import ValidationError
from starform_core.model.cluster import ClusterSettings
from starform_core.model.project import Project
from starform_core.model.service import Service
from starform_core.validation import check_range, instance_of, tuple_of

__all__ = ["API_GROUP", "API_VERSION", "KIND", "SUPPORTED_MAJOR", "DesiredState"]

API_GROUP: Final = "starform.io"
SUPPORTED_MAJOR: Final = 1
API_VERSION: Final = f"{API_GROUP}/v{SUPPORTED_MAJOR}"
KIND: Final = "DesiredState"


def _projects_sorted(value: Iterable[Project]) -> tuple[Project, ...]:
    return tuple(sorted(tuple_of(Project, "projects", value), key=lambda p: p.project_id))


@attrs.frozen
class DesiredState:
    """Everything one cluster should run: its settings and every project pinned to it.

    ``generation`` is the cluster's monotonic desired-state generation: it grows with every
    change Starbase stores, so Shuttle can report what it applied and refuse to go backwards.
    ``epoch`` identifies the control plane's history of the cluster the generation counts in: a
    restore of Starbase's database (or an operator's ``starbase cluster new-epoch``) starts a new,
    greater epoch, and Shuttle orders payloads by ``(epoch, generation)``. ``0`` is the history
    before epochs existed (a payload without the field), older than any real epoch.
    """

    generation: int = attrs.field(validator=lambda _i, a, v: check_range(a.name, v, low=1, high=2**53 - 1))
    cluster: ClusterSettings = attrs.field(validator=instance_of(ClusterSettings))
    projects: tuple[Project, ...] = attrs.field(default=(), converter=_projects_sorted)
    epoch: int = attrs.field(
        default=0, kw_only=True, validator=lambda _i, a, v: check_range(a.name, v, low=0, high=2**53 - 1)
    )
    api_version: str = API_VERSION
    kind: str = KIND

    def __attrs_post_init__(self) -> None:
        seen_services: set[str] = set()
        seen_hosts: dict[str, str] = {}
        project_ids: set[str] = set()
        for p_index, project in enumerate(self.projects):
            if project.project_id in project_ids:
                raise ValidationError(f"projects[{p_index}].project_id", "duplicate project")
            project_ids.add(project.project_id)
            for s_index, service in enumerate(project.services):
                where = f"projects[{p_index}].services[{s_index}]"
                if service.service_id in seen_services:
                    raise ValidationError(f"{where}.service_id", "service ids must be unique")
                seen_services.add(service.service_id)
                for hostname in service.hostnames:
                    owner = seen_hosts.setdefault(hostname, service.service_id)
                    if owner != service.service_id:
                        raise ValidationError(
                            f"{where}.hostnames", f"{hostname} is already routed to another service"
                        )

    def services(self) -> Iterator[tuple[Project, Service]]:
        """Every (project, service) pair, in canonical order."""
        for project in self.projects:
            for service in project.services:
                yield project, service
