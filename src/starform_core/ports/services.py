"""A project's environments, services (with volumes and hostnames) and their releases.

Every write bumps the cluster's generation and appends an audit entry in one transaction, after
folding the project through the payload builder: a write the payload would refuse never
commits, and a failed write leaves nothing behind.
Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown id,
:class:`~starform_core.errors.StoreConflictError` for a uniqueness or consistency clash,
:class:`~starform_core.errors.ValidationError` for a value the domain refuses.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.access import Actor
from starform_core.payload.rows import DeploymentRow, EnvironmentRow, HostnameRow, ServiceRow, VolumeRow
from starform_core.records import NewDeployment

__all__ = ["EnvironmentStore", "ReleaseStore", "ServiceStore"]


class EnvironmentStore(Protocol):
    """A project's environments."""

    def create_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Create an environment (name unique per project)."""
        ...

    def update_environment(self, environment: EnvironmentRow, *, actor: Actor) -> EnvironmentRow:
        """Change an environment's flags (its name and project are fixed)."""
        ...

    def delete_environment(self, environment_id: str, *, actor: Actor) -> None:
        """Delete an environment with its services and scoped var groups."""
        ...

    def get_environment(self, environment_id: str) -> EnvironmentRow:
        """One environment."""
        ...

    def list_environments(self, project_id: str) -> list[EnvironmentRow]:
        """A project's environments."""
        ...


class ServiceStore(Protocol):
    """Services and what hangs off them: volumes and hostnames."""

    def create_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Create a service (name unique per environment)."""
        ...

    def update_service(self, service: ServiceRow, *, actor: Actor) -> ServiceRow:
        """Replace a service's spec (its id, project and environment are fixed)."""
        ...

    def delete_service(self, service_id: str, *, actor: Actor) -> None:
        """Delete a service and everything attached to it."""
        ...

    def get_service(self, service_id: str) -> ServiceRow:
        """One service."""
        ...

    def list_services(self, project_id: str) -> list[ServiceRow]:
        """A project's services."""
        ...

    def add_volume(self, volume: VolumeRow, *, actor: Actor) -> VolumeRow:
        """Add a volume to a service."""
        ...

    def delete_volume(self, volume_id: str, *, actor: Actor) -> None:
        """Remove a volume."""
        ...

    def list_volumes(self, service_id: str) -> list[VolumeRow]:
        """A service's volumes."""
        ...

    def get_volume(self, volume_id: str) -> VolumeRow:
        """One volume."""
        ...

    def add_hostname(self, hostname: HostnameRow, *, actor: Actor) -> HostnameRow:
        """Route a hostname (unique across Starform) to a web service."""
        ...

    def delete_hostname(self, service_id: str, hostname: str, *, actor: Actor) -> None:
        """Stop routing a hostname to the service."""
        ...

    def list_hostnames(self, service_id: str) -> list[str]:
        """A service's hostnames."""
        ...


class ReleaseStore(Protocol):
    """Deployments: each deploy (or rollback) is the service's next version."""

    def create_deployment(self, deployment: NewDeployment, *, actor: Actor) -> DeploymentRow:
        """Deploy: store the next version of the service."""
        ...

    def list_deployments(self, service_id: str) -> list[DeploymentRow]:
        """A service's deployments, newest first."""
        ...

    def current_release(self, service_id: str) -> DeploymentRow | None:
        """The release the service runs, its highest version (``None`` before its first deploy):
        the same choice as the payload's (and the dashboard's) for that service."""
        ...

    def get_deployment(self, service_id: str, version: int) -> DeploymentRow:
        """One version of a service."""
        ...
