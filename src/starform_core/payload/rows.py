"""Typed rows: exactly what Starbase's set-based queries return, one record type per table.

``build_payload`` folds a :class:`ClusterRows` bundle into a :class:`DesiredState`. Rows are
plain values; they hold ids, not objects, and secrets only as :class:`SecretValue`.
"""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from typing import Any

import attrs

from starform_core.field_converters import as_str_tuple
from starform_core.model.enums import AccessMode, AdoptionPolicy, DriftMode, RunState, ServiceType, Tier
from starform_core.model.workload import Autoscaling, Probes
from starform_core.secrets_values import SecretValue

__all__ = [
    "ClusterRow",
    "ClusterRows",
    "DeploymentRow",
    "EnvironmentRow",
    "HostnameRow",
    "ProjectRow",
    "RevertRow",
    "RowMemo",
    "ServiceRow",
    "ServiceVarGroupRow",
    "VarGroupEntryRow",
    "VarGroupRow",
    "VolumeRow",
    "WorkspaceRow",
]

RowMemo = MutableMapping[Hashable, Any]
"""Rows decoded by a previous read, by their query and raw record: a reader given the same
memo each time decodes only the records it has not seen (the caller holds one per cluster)."""


@attrs.frozen
class WorkspaceRow:
    """``workspaces``: the billing boundary."""

    workspace_id: str
    name: str


@attrs.frozen
class ClusterRow:
    """``clusters`` joined with its desired-state epoch and generation."""

    cluster_id: str
    name: str
    region: str
    generation: int
    gateway_namespace: str
    gateway_name: str
    storage_class: str
    gateway_section_name: str | None = None
    lb_target_api_version: str | None = None
    lb_target_kind: str | None = None
    lb_target_namespace: str | None = None
    lb_target_name: str | None = None
    lb_size_unit: int | None = None
    lb_annotation: str | None = None
    prune_max_delete_percent: int = 30
    prune_max_delete_count: int = 25
    prune_release_held: bool = False
    egress_allow: tuple[str, ...] = attrs.field(default=(), converter=as_str_tuple)
    metrics_namespace: str | None = None
    epoch: int = attrs.field(default=1, kw_only=True)
    """The epoch the generation counts in (see :class:`~starform_core.payload.DesiredState`)."""


@attrs.frozen
class ProjectRow:
    """``projects``: pinned to one cluster at creation."""

    project_id: str
    workspace_id: str
    cluster_id: str
    name: str
    tier: Tier = attrs.field(converter=Tier)


@attrs.frozen
class EnvironmentRow:
    """``environments``: customer-named, flagged ephemeral and protected."""

    environment_id: str
    project_id: str
    name: str
    is_ephemeral: bool = False
    protected: bool = False


@attrs.frozen
class ServiceRow:
    """``services``: one service in one environment; scaling and probes are structured columns."""

    service_id: str
    project_id: str
    environment_id: str
    name: str
    type: ServiceType = attrs.field(converter=ServiceType)
    state: RunState = attrs.field(converter=RunState)
    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str | None = None
    memory_limit: str | None = None
    replicas: int | None = None
    autoscaling: Autoscaling | None = None
    probes: Probes = attrs.field(factory=Probes)
    port: int | None = None
    public: bool = True
    cron_schedule: str | None = None
    cron_time_zone: str | None = None
    drift_mode: DriftMode = attrs.field(default=DriftMode.ENFORCE, converter=DriftMode)
    drift_ignore_fields: tuple[str, ...] = attrs.field(default=(), converter=as_str_tuple)
    adoption_policy: AdoptionPolicy = attrs.field(default=AdoptionPolicy.MANUAL, converter=AdoptionPolicy)


@attrs.frozen
class DeploymentRow:
    """``deployments``: one monotonic version of a service; the highest version is current."""

    deployment_id: str
    service_id: str
    version: int
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None


@attrs.frozen
class VarGroupRow:
    """``var_groups``: belongs to a project, optionally scoped to one environment."""

    var_group_id: str
    project_id: str
    name: str
    environment_id: str | None = None


@attrs.frozen
class VarGroupEntryRow:
    """``var_group_entries``: one key and its (decrypted) secret value."""

    var_group_id: str
    key: str
    value: SecretValue


@attrs.frozen
class ServiceVarGroupRow:
    """``service_var_groups``: a var group attached to a service at an ``attach_order``."""

    service_id: str
    var_group_id: str
    attach_order: int


@attrs.frozen
class VolumeRow:
    """``volumes``: a persistent volume of a service."""

    volume_id: str
    service_id: str
    name: str
    mount_path: str
    size: str
    access_mode: AccessMode = attrs.field(default=AccessMode.READ_WRITE_ONCE, converter=AccessMode)


@attrs.frozen
class HostnameRow:
    """``hostnames``: a public hostname routed to a web service."""

    service_id: str
    hostname: str


@attrs.frozen
class RevertRow:
    """``adoptions`` rejected and not yet reverted: a live value Shuttle must revert (``adopt``)."""

    service_id: str
    field: str
    live: str


@attrs.frozen
class ClusterRows:
    """Everything Starbase's queries return for one cluster, ready to fold into a payload (tuples)."""

    cluster: ClusterRow
    projects: tuple[ProjectRow, ...] = ()
    environments: tuple[EnvironmentRow, ...] = ()
    services: tuple[ServiceRow, ...] = ()
    deployments: tuple[DeploymentRow, ...] = ()
    """Each service's current release, one row a service at most (a service without one has no
    release yet). The store chooses it (the highest version, in one query every reader shares):
    the payload builder refuses a second row for a service rather than choosing again."""
    var_groups: tuple[VarGroupRow, ...] = ()
    var_group_entries: tuple[VarGroupEntryRow, ...] = ()
    service_var_groups: tuple[ServiceVarGroupRow, ...] = ()
    volumes: tuple[VolumeRow, ...] = ()
    hostnames: tuple[HostnameRow, ...] = ()
    reverts: tuple[RevertRow, ...] = ()
