"""Request and response bodies (pydantic), converted to and from core rows at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from starform_apps.starbase import bounds
from starform_apps.starbase.redaction import redact_event_data
from starform_apps.starbase.validators import (
    AgentTimestamp,
    ApiVersion,
    Argument,
    Cidr,
    CronExpression,
    DisplayName,
    DnsLabel,
    DriftIgnorePath,
    Email,
    HostnameText,
    JsonObject,
    KindName,
    ObservedSnapshot,
    ProbePath,
    QualifiedName,
    Quantity,
    Rfc1123Label,
    SmallInt,
    StrictBool,
    Subdomain,
    TimeZoneName,
    VarEntries,
)
from starform_core.access import ProjectRole, WorkspaceRole
from starform_core.model.enums import (
    AccessMode,
    AdoptionPolicy,
    DriftMode,
    ProbeKind,
    RunState,
    ServiceType,
    Tier,
)
from starform_core.ports.reconcile import MAX_SERVED_PER_REPORT

__all__ = [
    "AgentOut",
    "AttachIn",
    "AttachmentOut",
    "AttemptIn",
    "AutoscalingBody",
    "ClusterIn",
    "ClusterOut",
    "ClusterPatch",
    "ClusterRegistered",
    "DeploymentIn",
    "DeploymentOut",
    "EntriesIn",
    "EnvironmentIn",
    "EnvironmentOut",
    "EnvironmentPatch",
    "EventIn",
    "EventOut",
    "EventsAccepted",
    "EventsIn",
    "EventsPageOut",
    "HostnameIn",
    "MemberIn",
    "NewEpochOut",
    "NotAppliedIn",
    "ObjectIn",
    "ProbeBody",
    "ProbesBody",
    "ProjectIn",
    "ProjectMemberIn",
    "ProjectOut",
    "RefusedOut",
    "RejectedPayloadIn",
    "RollbackIn",
    "ServiceIn",
    "ServiceOut",
    "ServicePatch",
    "ServiceStatusIn",
    "StatusAccepted",
    "StatusOut",
    "StatusReportIn",
    "TokenCreated",
    "TokenIn",
    "TokenOut",
    "TokenRotateIn",
    "VarGroupIn",
    "VarGroupOut",
    "VarKeyOut",
    "VolumeIn",
    "VolumeOut",
    "WorkspaceIn",
    "WorkspaceOut",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class WorkspaceIn(_In):
    """Create a workspace."""

    name: DisplayName


class WorkspaceOut(BaseModel):
    """A workspace."""

    id: UUID
    name: str


class MemberIn(_In):
    """Add a workspace member (by email) or change the role."""

    email: Email
    role: WorkspaceRole


class ProjectMemberIn(_In):
    """Add a project member (a workspace member, by email) or change the role."""

    email: Email
    role: ProjectRole


class ProjectIn(_In):
    """Create a project pinned to a cluster."""

    name: DisplayName
    cluster_id: UUID
    tier: Tier = Tier.HOBBY


class ProjectPatch(_In):
    """Move a project to another tier (its services must fit the new tier's caps)."""

    tier: Tier


class ProjectOut(BaseModel):
    """A project."""

    id: UUID
    workspace_id: UUID
    cluster_id: UUID
    name: str
    tier: Tier


class EnvironmentIn(_In):
    """Create an environment: an RFC 1123 label of at most 30 characters."""

    name: str = Field(min_length=1, max_length=63)
    is_ephemeral: StrictBool = False
    protected: StrictBool = False


class EnvironmentPatch(_In):
    """Change an environment's flags."""

    is_ephemeral: StrictBool | None = None
    protected: StrictBool | None = None


class EnvironmentOut(BaseModel):
    """An environment."""

    id: UUID
    project_id: UUID
    name: str
    is_ephemeral: bool
    protected: bool


class AutoscalingBody(_In):
    """Horizontal autoscaling on CPU and/or memory."""

    min_replicas: SmallInt
    max_replicas: SmallInt
    target_cpu_percent: SmallInt | None = None
    target_memory_percent: SmallInt | None = None
    scale_down_cooldown_seconds: SmallInt = 300


class ProbeBody(_In):
    """One health probe."""

    kind: ProbeKind
    port: SmallInt
    path: ProbePath | None = None
    grpc_service: QualifiedName | None = None
    initial_delay_seconds: SmallInt = 0
    period_seconds: SmallInt = 10
    timeout_seconds: SmallInt = 1
    failure_threshold: SmallInt = 3


class ProbesBody(_In):
    """Startup, liveness and readiness probes."""

    startup: ProbeBody | None = None
    liveness: ProbeBody | None = None
    readiness: ProbeBody | None = None


class _ServiceSpec(_In):
    state: RunState = RunState.ACTIVE
    cpu_request: Quantity = "100m"
    memory_request: Quantity = "128Mi"
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = None
    replicas: SmallInt | None = None
    autoscaling: AutoscalingBody | None = None
    probes: ProbesBody = Field(default_factory=ProbesBody)
    port: SmallInt | None = None
    public: StrictBool = True
    cron_schedule: CronExpression | None = None
    cron_time_zone: TimeZoneName | None = None
    drift_mode: DriftMode = DriftMode.ENFORCE
    drift_ignore_fields: list[DriftIgnorePath] = Field(default_factory=list, max_length=100)
    adoption_policy: AdoptionPolicy = AdoptionPolicy.MANUAL


class ServiceIn(_ServiceSpec):
    """Create a service in an environment of the project."""

    environment_id: UUID
    name: str = Field(min_length=1, max_length=63)
    type: ServiceType


class ServicePatch(_In):
    """Change some of a service's spec; omitted fields keep their value, ``null`` clears."""

    name: str | None = Field(default=None, min_length=1, max_length=63)
    type: ServiceType | None = None
    state: RunState | None = None
    cpu_request: Quantity | None = None
    memory_request: Quantity | None = None
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = None
    replicas: SmallInt | None = None
    autoscaling: AutoscalingBody | None = None
    probes: ProbesBody | None = None
    port: SmallInt | None = None
    public: StrictBool | None = None
    cron_schedule: CronExpression | None = None
    cron_time_zone: TimeZoneName | None = None
    drift_mode: DriftMode | None = None
    drift_ignore_fields: list[DriftIgnorePath] | None = Field(default=None, max_length=100)
    adoption_policy: AdoptionPolicy | None = None


class DeploymentOut(BaseModel):
    """One deployment (version) of a service."""

    id: UUID
    service_id: UUID
    version: int
    image: str
    command: list[str] | None
    args: list[str] | None


class AttachmentOut(BaseModel):
    """A var group attached to a service."""

    var_group_id: UUID
    attach_order: int


class VolumeIn(_In):
    """Add a persistent volume."""

    name: str = Field(min_length=1, max_length=63)
    mount_path: str = Field(min_length=1, max_length=1024)
    size: Quantity
    access_mode: AccessMode = AccessMode.READ_WRITE_ONCE


class VolumeOut(BaseModel):
    """A volume."""

    id: UUID
    service_id: UUID
    name: str
    mount_path: str
    size: str
    access_mode: AccessMode


class ServiceOut(BaseModel):
    """A service's desired spec, its current release, hostnames, volumes and var groups."""

    id: UUID
    project_id: UUID
    environment_id: UUID
    name: str
    type: ServiceType
    state: RunState
    cpu_request: str
    memory_request: str
    cpu_limit: str | None
    memory_limit: str | None
    replicas: int | None
    autoscaling: AutoscalingBody | None
    probes: ProbesBody
    port: int | None
    public: bool
    cron_schedule: str | None
    cron_time_zone: str | None
    drift_mode: DriftMode
    drift_ignore_fields: list[str]
    adoption_policy: AdoptionPolicy = AdoptionPolicy.MANUAL
    release: DeploymentOut | None = None
    hostnames: list[str] = Field(default_factory=list)
    volumes: list[VolumeOut] = Field(default_factory=list)
    var_groups: list[AttachmentOut] = Field(default_factory=list)


class DeploymentIn(_In):
    """Deploy an image pinned by digest (``repo@sha256:<64 hex>``) or by tag (``repo:tag``, resolved
    to its digest through the image registry)."""

    image: str = Field(min_length=1, max_length=1024)
    command: list[Argument] | None = Field(default=None, max_length=100)
    args: list[Argument] | None = Field(default=None, max_length=100)


class RollbackIn(_In):
    """Redeploy a previous version's image, command and args as a new version."""

    version: int = Field(ge=1, le=2**31 - 1)


class HostnameIn(_In):
    """Route a hostname to a web service."""

    hostname: HostnameText


class VarGroupIn(_In):
    """Create a var group; values are write-only."""

    name: DisplayName
    environment_id: UUID | None = None
    entries: VarEntries = Field(default_factory=dict)


class EntriesIn(_In):
    """Set (insert or replace) entries of a var group."""

    entries: VarEntries = Field(min_length=1)


class VarKeyOut(BaseModel):
    """A key of a var group (never its value)."""

    key: str
    key_id: str
    updated_at: datetime


class VarGroupOut(BaseModel):
    """A var group with its keys."""

    id: UUID
    project_id: UUID
    name: str
    environment_id: UUID | None
    keys: list[VarKeyOut] = Field(default_factory=list)


class AttachIn(_In):
    """Attach a var group at an order (higher wins on duplicate keys)."""

    attach_order: int = Field(ge=0, le=10_000)


class ClusterIn(_In):
    """Register a cluster."""

    name: DnsLabel
    region: DnsLabel
    gateway_namespace: Rfc1123Label
    gateway_name: Subdomain
    gateway_section_name: Subdomain | None = None
    storage_class: Subdomain = "do-block-storage"
    lb_target_api_version: ApiVersion | None = None
    lb_target_kind: KindName | None = None
    lb_target_namespace: Rfc1123Label | None = None
    lb_target_name: Subdomain | None = None
    lb_size_unit: SmallInt | None = None
    lb_annotation: QualifiedName | None = None
    prune_max_delete_percent: SmallInt = 30
    prune_max_delete_count: SmallInt = 25
    prune_release_held: StrictBool = False
    egress_allow: list[Cidr] = Field(default_factory=list, max_length=50)
    metrics_namespace: Rfc1123Label | None = None


class ClusterPatch(_In):
    """Change cluster settings (load-balancer size unit, prune valve, ...)."""

    lb_size_unit: SmallInt | None = None
    prune_max_delete_percent: SmallInt | None = None
    prune_max_delete_count: SmallInt | None = None
    prune_release_held: StrictBool | None = None
    egress_allow: list[Cidr] | None = Field(default=None, max_length=50)
    metrics_namespace: Rfc1123Label | None = None
    storage_class: Subdomain | None = None


class AgentOut(BaseModel):
    """What the cluster's agent last reported, and the reports Starbase refused."""

    agent: str
    epoch: int | None
    last_attempted_generation: int | None
    outcome: str | None
    counts: dict[str, int]
    reasons: dict[str, int]
    objects: list[dict[str, Any]]
    reported_at: datetime | None
    rejected_payload: dict[str, Any] | None = None
    refused_reports: int
    last_refused_at: datetime | None
    last_refused_reason: str | None


class ClusterOut(BaseModel):
    """A cluster's settings and generations."""

    id: UUID
    name: str
    region: str
    generation: int
    gateway_namespace: str
    gateway_name: str
    gateway_section_name: str | None
    storage_class: str
    lb_target_api_version: str | None
    lb_target_kind: str | None
    lb_target_namespace: str | None
    lb_target_name: str | None
    lb_size_unit: int | None
    lb_annotation: str | None
    prune_max_delete_percent: int
    prune_max_delete_count: int
    prune_release_held: bool
    egress_allow: list[str] = Field(default_factory=list)
    metrics_namespace: str | None = None
    last_applied_generation: int | None = None
    last_applied_at: datetime | None = None
    epoch: int = 0
    last_attempted_generation: int | None = None
    applied: bool | None = None
    held: int = 0
    failed: int = 0
    agent: AgentOut | None = None


class ClusterRegistered(BaseModel):
    """A new cluster and its agent token (shown once; only its hash is stored)."""

    cluster: ClusterOut
    agent_token: str


class ServiceStatusIn(_In):
    """The observed status of one service."""

    service_id: UUID
    health: str = Field(pattern=r"^[a-z][a-z_]{0,31}$")
    reason: str = Field(default="", max_length=1000)
    status: JsonObject = Field(default_factory=dict)
    generation: int = Field(ge=0, le=2**53 - 1, strict=True)
    observed_at: AgentTimestamp


Count = Field(ge=0, le=10_000_000, strict=True)
_WireInt = Annotated[int, Field(ge=0, le=2**53 - 1, strict=True)]
_COUNT_KEYS = r"^[a-z][a-z_-]{0,63}$"


class NotAppliedIn(_In):
    """One object an apply attempt did not bring to its desired state."""

    object: str = Field(min_length=1, max_length=600)
    kind: str = Field(min_length=1, max_length=100)
    state: Literal["failed", "skipped", "cancelled", "held", "conflict"]
    reason: str = Field(default="", max_length=200)


class AttemptIn(_In):
    """The last apply attempt: the generation, its honest outcome, counts per state, kind, reason."""

    epoch: _WireInt
    generation: int = Field(ge=1, le=2**53 - 1, strict=True)
    outcome: Literal["applied", "held", "partial", "failed"]
    counts: dict[Annotated[str, StringConstraints(pattern=_COUNT_KEYS)], Annotated[int, Count]] = Field(
        default_factory=dict, max_length=20
    )
    by_kind: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)],
        dict[Annotated[str, StringConstraints(pattern=_COUNT_KEYS)], Annotated[int, Count]],
    ] = Field(default_factory=dict, max_length=100)
    reasons: dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], Annotated[int, Count]] = (
        Field(default_factory=dict, max_length=100)
    )
    objects: list[NotAppliedIn] = Field(default_factory=list, max_length=50)


class RejectedPayloadIn(_In):
    """The last payload the agent refused since the one it holds: why, and which."""

    reason: Literal["invalid", "stale", "stale-epoch"]
    etag: str = Field(default="", max_length=200)
    epoch: _WireInt | None = None
    generation: _WireInt | None = None
    detail: str = Field(default="", max_length=500)


_KIND = r"^[A-Z][A-Za-z0-9]{0,62}$"
_OBJECT_NAME = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_NAMESPACE = Field(default="", max_length=253, pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
_UID = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9-]+$")


class ObjectIn(_In):
    """One managed object in a status report: identity, UID and a small observed snapshot."""

    service_id: UUID
    kind: str = Field(pattern=_KIND)
    namespace: str = _NAMESPACE
    name: str = _OBJECT_NAME
    uid: str = _UID
    observed: ObservedSnapshot = Field(default_factory=dict)


class StatusReportIn(_In):
    """An agent's report: the generation it applied, its last attempt, each service's status.

    ``report_id`` is the agent's own id (a re-sent report is stored once); ``epoch`` the epoch
    the report was made in (``null``: an agent from before epochs).
    """

    applied_generation: int = Field(ge=0, le=2**53 - 1, strict=True)
    agent: str = Field(default="", max_length=200)
    services: list[ServiceStatusIn] = Field(default_factory=list, max_length=5000)
    report_id: str | None = Field(default=None, min_length=1, max_length=200)
    epoch: _WireInt | None = None
    attempt: AttemptIn | None = None
    rejected_payload: RejectedPayloadIn | None = None
    reported_at: AgentTimestamp | None = None
    served_reconcile_requests: list[UUID] = Field(default_factory=list, max_length=MAX_SERVED_PER_REPORT)
    objects: list[ObjectIn] | None = Field(default=None, max_length=5000)


class StatusAccepted(BaseModel):
    """A stored report."""

    report_id: UUID
    applied_generation: int
    desired_generation: int
    epoch: int


class RefusedOut(BaseModel):
    """A refused report: why, for people (``detail``) and machines (``reason``)."""

    detail: str
    reason: Literal["epoch-ahead", "epoch-behind", "generation-ahead"]


class NewEpochOut(BaseModel):
    """The cluster's new epoch."""

    epoch: int
    generation: int


class EventIn(_In):
    """One event; ``event_id`` makes re-delivery harmless."""

    event_id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=200)
    message: str = Field(default="", max_length=4000)
    service_id: UUID | None = None
    data: JsonObject = Field(default_factory=dict)
    occurred_at: AgentTimestamp

    @field_validator("data")
    @classmethod
    def _no_secret_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        """An event about a Secret is stored without its values (see ``redaction``)."""
        return redact_event_data(value)


class EventsIn(_In):
    """A batch of events."""

    events: list[EventIn] = Field(max_length=1000)


class EventsAccepted(BaseModel):
    """How many events of a batch were new."""

    received: int
    stored: int


class EventOut(BaseModel):
    """A stored event."""

    seq: int
    event_id: str
    type: str
    reason: str
    message: str
    service_id: UUID | None
    data: dict[str, Any]
    occurred_at: datetime


class EventsPageOut(BaseModel):
    """A page of events; pass ``next_after`` as ``after`` for the next page."""

    events: list[EventOut]
    next_after: int | None


class StatusOut(BaseModel):
    """A service's observed status (cached from the agent's last report)."""

    service_id: UUID
    health: str
    reason: str
    status: dict[str, Any]
    generation: int
    observed_at: datetime
    stale_objects: int = 0
    alerts: list[str] = Field(default_factory=list)


class TokenIn(_In):
    """Create an API token; with ``project_id`` and ``role`` it is scoped to that project (CI)."""

    name: DisplayName = "api"
    project_id: UUID | None = None
    role: ProjectRole | None = None
    expires_in_days: int | None = Field(default=90, ge=1, le=bounds.MAX_TOKEN_DAYS, strict=True)


class TokenRotateIn(_In):
    """Rotate a token: a new secret, the same name and scope; the old one ends after the grace."""

    grace_seconds: int = Field(default=0, ge=0, le=bounds.MAX_ROTATION_GRACE_SECONDS, strict=True)
    expires_in_days: int | None = Field(default=90, ge=1, le=bounds.MAX_TOKEN_DAYS, strict=True)


class TokenOut(BaseModel):
    """An API token's metadata (never its secret)."""

    id: UUID
    name: str
    project_id: UUID | None
    role: ProjectRole | None
    state: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="when it was last used (to the minute)")
    revoked_at: datetime | None
    rotated_from: UUID | None


class TokenCreated(BaseModel):
    """A new token and its secret: shown once, only its hash is stored."""

    token: TokenOut
    secret: str


class ReconcileRequestOut(BaseModel):
    """A reconcile-now request: pending while ``served_at`` is ``null``."""

    id: UUID
    cluster_id: UUID
    service_id: UUID | None
    requested_by: str
    requested_at: datetime
    served_at: datetime | None
