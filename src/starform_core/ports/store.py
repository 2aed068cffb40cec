"""The store port: Starbase's persistence, as the HTTP layer and the payload builder see it.

Two protocols. :class:`DesiredStateStore` is what an agent-facing endpoint needs (one cheap
generation read, the set-based rows for a cluster, the agent's reports). :class:`Store` adds the
people-facing writes. Every write that changes a cluster's desired state bumps that cluster's
generation in the same transaction and appends an audit entry naming the actor; a write that
fails leaves nothing behind. Records carry ids, never objects; secret values only as
:class:`~starform_core.secrets_values.SecretValue`, and no read returns one except
:meth:`DesiredStateStore.cluster_rows`.

Errors: :class:`~starform_core.errors.StoreNotFoundError` for an unknown id,
:class:`~starform_core.errors.StoreConflictError` for a uniqueness or consistency clash,
:class:`~starform_core.errors.ValidationError` for a value the domain refuses.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from starform_core.payload.rows import (
    ClusterRow,
    ClusterRows,
    DeploymentRow,
    EnvironmentRow,
    HostnameRow,
    ProjectRow,
    ServiceRow,
    ServiceVarGroupRow,
    VarGroupRow,
    VolumeRow,
    WorkspaceRow,
)
from starform_core.reporting.agent import AgentState
from starform_core.secrets_values import SecretValue

__all__ = [
    "Actor",
    "AuditEntry",
    "DesiredStateStore",
    "EventRecord",
    "EventsPage",
    "NewDeployment",
    "ObservedStatus",
    "ProjectRole",
    "Roles",
    "Store",
    "UserRecord",
    "VarKeyInfo",
    "WorkspaceRole",
]


class WorkspaceRole(enum.StrEnum):
    """Workspace roles (§15): Owner, Admin, Billing, Member."""

    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    MEMBER = "member"


class ProjectRole(enum.StrEnum):
    """Project roles (§15): Admin, Developer, Viewer."""

    ADMIN = "admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


@attrs.frozen
class Actor:
    """Who makes a change; recorded in the audit log. ``user_id`` is ``None`` for the system."""

    label: str
    user_id: str | None = None


@attrs.frozen
class UserRecord:
    """A person (or CI identity) that holds API tokens; operators may register clusters."""

    user_id: str
    email: str
    name: str = ""
    is_operator: bool = False


@attrs.frozen
class Roles:
    """A user's roles on one workspace and (optionally) one of its projects."""

    workspace: WorkspaceRole | None = None
    project: ProjectRole | None = None


@attrs.frozen
class NewDeployment:
    """A deploy request; the store assigns the next version of the service."""

    deployment_id: str
    service_id: str
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None


@attrs.frozen
class VarKeyInfo:
    """Metadata of one var group entry: its key, never its value."""

    key: str
    key_id: str
    updated_at: datetime


@attrs.frozen
class ObservedStatus:
    """The last status an agent reported for one service (a cache; Kubernetes is authoritative)."""

    service_id: str
    health: str
    generation: int
    observed_at: datetime
    reason: str = ""
    status: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class EventRecord:
    """One reconcile or drift event; ``event_id`` makes delivery idempotent.

    ``seq`` is assigned by the store (``0`` before it is stored) and orders events for paging.
    """

    event_id: str
    type: str
    occurred_at: datetime
    service_id: str | None = None
    reason: str = ""
    message: str = ""
    data: Mapping[str, Any] = attrs.field(factory=dict)
    seq: int = 0


@attrs.frozen
class EventsPage:
    """A page of events; pass ``next_after`` back to read the next page (``None``: no more)."""

    events: tuple[EventRecord, ...]
    next_after: int | None


@attrs.frozen
class AuditEntry:
    """One user change: who, what, which target, the cluster generation it produced."""

    seq: int
    actor: str
    action: str
    target_type: str
    target_id: str
    created_at: datetime
    generation: int | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


class DesiredStateStore(Protocol):
    """What the agent-facing endpoints need: generations, rows, reports."""

    def cluster_generation(self, cluster_id: str) -> int:
        """The cluster's current desired-state generation (a cheap read)."""
        ...

    def cluster_rows(self, cluster_id: str) -> ClusterRows:
        """Every row of the cluster's desired state, read in one consistent snapshot."""
        ...

    def cluster_version(self, cluster_id: str) -> tuple[int, int]:
        """The cluster's current ``(epoch, generation)`` (a cheap read)."""
        ...

    def cluster_token_hash(self, cluster_id: str) -> bytes:
        """The SHA-256 of the cluster's agent token."""
        ...

    def record_status(
        self,
        cluster_id: str,
        *,
        applied_generation: int,
        statuses: Sequence[ObservedStatus],
        agent: str = "",
        report_key: str | None = None,
        epoch: int | None = None,
        attempt: Mapping[str, Any] | None = None,
        reported_at: datetime | None = None,
    ) -> str:
        """Store an agent report; returns its id.

        ``report_key`` is the agent's own id of the report: a re-sent report is stored once (the
        first id is returned). ``attempt`` is the last apply attempt (``generation``, ``outcome``,
        counts). A report Starbase does not believe (another epoch, a generation above the
        desired one: see :func:`~starform_core.reporting.judge_report`) is recorded as refused
        and raises :class:`~starform_core.errors.AgentReportRefusedError`; a status of a service
        of another cluster raises ``ValidationError``; statuses of deleted services are skipped.
        The last applied generation moves only forward within an epoch.
        """
        ...

    def append_events(self, cluster_id: str, events: Sequence[EventRecord]) -> int:
        """Append events, skipping ids already stored; returns how many were new."""
        ...

    def last_applied(self, cluster_id: str) -> tuple[int | None, datetime | None]:
        """The generation the agent last reported applied, and when."""
        ...


class Store(DesiredStateStore, Protocol):
    """The full store: tenancy, desired state, var groups, reads for the dashboard, audit."""

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store answers."""
        ...

    # people and tokens
    def create_user(self, user: UserRecord) -> UserRecord:
        """Create a user (``StoreConflictError`` if the email is taken)."""
        ...

    def get_user(self, *, user_id: str | None = None, email: str | None = None) -> UserRecord:
        """A user by id or by email."""
        ...

    def create_api_token(self, user_id: str, token_hash: bytes, *, name: str = "") -> str:
        """Store an API token's hash for a user; returns the token's id."""
        ...

    def user_for_token(self, token_hash: bytes) -> UserRecord:
        """The user an unrevoked API token belongs to (``StoreNotFoundError`` otherwise)."""
        ...

    # workspaces and memberships
    def create_workspace(self, workspace: WorkspaceRow, *, owner: Actor) -> WorkspaceRow:
        """Create a workspace; ``owner`` becomes its Owner."""
        ...

    def get_workspace(self, workspace_id: str) -> WorkspaceRow:
        """One workspace."""
        ...

    def list_workspaces(self, user_id: str) -> list[WorkspaceRow]:
        """The workspaces the user is a member of."""
        ...

    def set_workspace_member(
        self, workspace_id: str, user_id: str, role: WorkspaceRole, *, actor: Actor
    ) -> None:
        """Add a member or change a member's role."""
        ...

    def set_project_member(self, project_id: str, user_id: str, role: ProjectRole, *, actor: Actor) -> None:
        """Add a project member or change the role."""
        ...

    def remove_workspace_member(self, workspace_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a member (and their project roles in the workspace); the last Owner stays."""
        ...

    def remove_project_member(self, project_id: str, user_id: str, *, actor: Actor) -> None:
        """Remove a user's project role."""
        ...

    def roles_of(self, user_id: str, workspace_id: str, project_id: str | None = None) -> Roles:
        """The user's workspace role and project role (either may be ``None``)."""
        ...

    # clusters
    def register_cluster(self, cluster: ClusterRow, *, agent_token_hash: bytes, actor: Actor) -> ClusterRow:
        """Register a cluster (its region is created if new) at ``cluster.generation``."""
        ...

    def update_cluster(self, cluster: ClusterRow, *, actor: Actor) -> ClusterRow:
        """Change a cluster's settings (not its id or generation); bumps the generation."""
        ...

    def get_cluster(self, cluster_id: str) -> ClusterRow:
        """One cluster with its current generation."""
        ...

    def list_clusters(self) -> list[ClusterRow]:
        """Every cluster."""
        ...

    # projects and environments
    def create_project(self, project: ProjectRow, *, actor: Actor) -> ProjectRow:
        """Create a project pinned to its cluster."""
        ...

    def get_project(self, project_id: str) -> ProjectRow:
        """One project."""
        ...

    def list_projects(self, workspace_id: str) -> list[ProjectRow]:
        """A workspace's projects."""
        ...

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

    # services and what hangs off them
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

    def create_deployment(self, deployment: NewDeployment, *, actor: Actor) -> DeploymentRow:
        """Deploy: store the next version of the service."""
        ...

    def list_deployments(self, service_id: str) -> list[DeploymentRow]:
        """A service's deployments, newest first."""
        ...

    def get_deployment(self, service_id: str, version: int) -> DeploymentRow:
        """One version of a service."""
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

    # var groups
    def create_var_group(
        self,
        group: VarGroupRow,
        *,
        entries: Mapping[str, SecretValue] | None = None,
        actor: Actor,
    ) -> VarGroupRow:
        """Create a var group with its first entries."""
        ...

    def delete_var_group(self, var_group_id: str, *, actor: Actor) -> None:
        """Delete a var group (it is detached from every service)."""
        ...

    def get_var_group(self, var_group_id: str) -> VarGroupRow:
        """One var group."""
        ...

    def list_var_groups(self, project_id: str) -> list[VarGroupRow]:
        """A project's var groups."""
        ...

    def set_var_entries(self, var_group_id: str, entries: Mapping[str, SecretValue], *, actor: Actor) -> None:
        """Set (insert or replace) entries of a var group."""
        ...

    def delete_var_entry(self, var_group_id: str, key: str, *, actor: Actor) -> None:
        """Remove one entry of a var group."""
        ...

    def list_var_keys(self, var_group_id: str) -> list[VarKeyInfo]:
        """A var group's keys with metadata; values are write-only."""
        ...

    def attach_var_group(self, link: ServiceVarGroupRow, *, actor: Actor) -> ServiceVarGroupRow:
        """Attach (or re-order) a var group on a service of the same project."""
        ...

    def detach_var_group(self, service_id: str, var_group_id: str, *, actor: Actor) -> None:
        """Detach a var group from a service."""
        ...

    def list_attachments(self, service_id: str) -> list[ServiceVarGroupRow]:
        """The var groups attached to a service, by attach order."""
        ...

    # dashboard reads
    def service_status(self, service_id: str) -> ObservedStatus | None:
        """The cached observed status of a service, if any agent reported one."""
        ...

    def service_events(self, service_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """A service's events in order, after the ``seq`` cursor."""
        ...

    def audit_entries(self, *, cluster_id: str) -> list[AuditEntry]:
        """The audit entries of changes that touched a cluster, oldest first."""
        ...

    def cluster_events(self, cluster_id: str, *, after: int = 0, limit: int = 50) -> EventsPage:
        """Every event the cluster's agent reported (cluster-wide ones included), after ``seq``."""
        ...

    def agent_state(self, cluster_id: str) -> AgentState:
        """What the cluster's agent last reported, and its refused reports."""
        ...

    def new_epoch(self, cluster_id: str, *, actor: Actor) -> int:
        """Start a new epoch of the cluster's history (after a restore); returns it.

        The new epoch is above the current one and every epoch an agent reported, and not before
        now (Unix milliseconds); the last applied generation is forgotten (it belonged to the
        old epoch). Audited as ``cluster.new_epoch``.
        """
        ...
