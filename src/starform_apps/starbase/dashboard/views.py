"""What the dashboard's pages show, read through the API's role ports and its authorisation.

Each ``*_view`` function checks the caller may read what it gathers (the same
:func:`~starform_apps.starbase.auth.authorize_project` checks as the API: a 404 for what the
caller cannot see) and returns plain values for the templates. Var group *values* are never
read here: a service page names its var groups and their keys only.
"""

from __future__ import annotations

import attrs

from starform_apps.starbase.auth import Caller, authorize_project
from starform_apps.starbase.ports import StarbasePorts
from starform_apps.starbase.roles import Action, allowed, narrowed
from starform_apps.starbase.service_access import ServiceAccess
from starform_core.access import Roles
from starform_core.model.enums import ServiceType
from starform_core.payload.rows import (
    DeploymentRow,
    EnvironmentRow,
    ProjectRow,
    ServiceRow,
    VolumeRow,
    WorkspaceRow,
)
from starform_core.records import EventRecord, ObservedStatus
from starform_core.render.pod import CONTAINER_NAME
from starform_core.reporting import AgentState

__all__ = [
    "Comparison",
    "ProjectView",
    "ServiceView",
    "WorkspaceView",
    "compare",
    "home_view",
    "project_view",
    "service_view",
]

EVENTS_SHOWN = 50
"""Events a service page shows when it opens (newer ones arrive over the live stream)."""

_DRIFT_TYPES = frozenset({"DriftReverted", "DriftDetected"})


@attrs.frozen
class WorkspaceView:
    """A workspace and the projects of it the caller can read."""

    workspace: WorkspaceRow
    projects: tuple[ProjectRow, ...]


@attrs.frozen
class ServiceSummary:
    """One line of a project's service list."""

    service: ServiceRow
    environment: EnvironmentRow
    status: ObservedStatus | None


@attrs.frozen
class ProjectView:
    """A project with its services and their last reported health."""

    project: ProjectRow
    services: tuple[ServiceSummary, ...]


@attrs.frozen
class Comparison:
    """One row of desired next to observed: ``state`` is in-sync, differs or unknown."""

    field: str
    desired: str
    observed: str
    state: str
    key: str = ""


@attrs.frozen(kw_only=True)
class ServiceView:
    """Everything a service page shows."""

    service: ServiceRow
    project: ProjectRow
    environment: EnvironmentRow
    release: DeploymentRow | None
    deployments: tuple[DeploymentRow, ...]
    hostnames: tuple[str, ...]
    volumes: tuple[VolumeRow, ...]
    var_groups: tuple[tuple[str, tuple[str, ...]], ...]
    status: ObservedStatus | None
    desired_generation: int
    applied_generation: int | None
    agent: AgentState
    comparisons: tuple[Comparison, ...]
    events: tuple[EventRecord, ...]
    drift: tuple[EventRecord, ...]
    can_deploy: bool
    can_write: bool

    @property
    def container_name(self) -> str:
        """The container that runs the release's image (a workload may have sidecars)."""
        return CONTAINER_NAME

    @property
    def last_seq(self) -> int:
        """The newest event shown (the live stream continues after it)."""
        return max((e.seq for e in self.events), default=0)

    @property
    def rollout(self) -> str:
        """Where the rollout of the desired generation stands, in words."""
        applied = self.applied_generation
        if applied is None:
            return "not applied yet: the cluster's agent has not reported"
        if applied >= self.desired_generation:
            return f"rolled out: generation {applied} applied"
        return f"rolling out: generation {applied} applied, {self.desired_generation} desired"


def home_view(ports: StarbasePorts, caller: Caller) -> tuple[WorkspaceView, ...]:
    """The caller's workspaces and readable projects (a scoped token: its one project)."""
    tenancy = ports.tenancy
    if caller.scope is not None:
        project = tenancy.get_project(caller.scope.project_id)
        return (WorkspaceView(workspace=tenancy.get_workspace(project.workspace_id), projects=(project,)),)
    views = []
    for workspace in tenancy.list_workspaces(caller.user_id):
        readable = tuple(
            p
            for p in tenancy.list_projects(workspace.workspace_id)
            if allowed(Action.PROJECT_READ, tenancy.roles_of(caller.user_id, p.workspace_id, p.project_id))
        )
        views.append(WorkspaceView(workspace=workspace, projects=readable))
    return tuple(views)


def project_view(ports: StarbasePorts, caller: Caller, project_id: str) -> ProjectView:
    """A project's services with their health (404 when the caller cannot read the project)."""
    project = ports.tenancy.get_project(project_id)
    authorize_project(ports.tenancy, caller, project, Action.PROJECT_READ)
    environments = {e.environment_id: e for e in ports.environments.list_environments(project_id)}
    services = tuple(
        ServiceSummary(
            service=row,
            environment=environments[row.environment_id],
            status=ports.dashboard.service_status(row.service_id),
        )
        for row in ports.services.list_services(project_id)
    )
    return ProjectView(project=project, services=services)


def _var_groups(ports: StarbasePorts, service_id: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups = []
    for link in ports.var_groups.list_attachments(service_id):
        group = ports.var_groups.get_var_group(link.var_group_id)
        keys = tuple(k.key for k in ports.var_groups.list_var_keys(group.var_group_id))
        groups.append((group.name, keys))
    return tuple(groups)


def service_view(ports: StarbasePorts, caller: Caller, service_id: str) -> ServiceView:
    """A service page (404 when the caller cannot read the service)."""
    access = ServiceAccess(services=ports.services, environments=ports.environments, tenancy=ports.tenancy)
    service = access.authorized(caller, service_id, Action.PROJECT_READ)
    project = ports.tenancy.get_project(service.project_id)
    environment = ports.environments.get_environment(service.environment_id)
    roles = ports.tenancy.roles_of(caller.user_id, project.workspace_id, project.project_id)
    deployments = tuple(ports.releases.list_deployments(service.service_id))
    release = ports.releases.current_release(service.service_id)
    status = ports.dashboard.service_status(service.service_id)
    desired_generation = ports.agents.cluster_generation(project.cluster_id)
    applied, _at = ports.dashboard.last_applied(project.cluster_id)
    events = ports.dashboard.recent_service_events(service.service_id, limit=EVENTS_SHOWN)
    return ServiceView(
        service=service,
        project=project,
        environment=environment,
        release=release,
        deployments=deployments,
        hostnames=tuple(ports.services.list_hostnames(service.service_id)),
        volumes=tuple(ports.services.list_volumes(service.service_id)),
        var_groups=_var_groups(ports, service.service_id),
        status=status,
        desired_generation=desired_generation,
        applied_generation=applied,
        agent=ports.dashboard.agent_state(project.cluster_id),
        comparisons=compare(service, release, status, desired_generation=desired_generation),
        events=events,
        drift=tuple(e for e in events if e.type in _DRIFT_TYPES)[-5:],
        can_deploy=_may(caller, roles, Action.DEPLOY, environment),
        can_write=_may(caller, roles, Action.SERVICE_WRITE, environment),
    )


def _may(caller: Caller, roles: Roles, action: Action, environment: EnvironmentRow) -> bool:
    """Whether to offer a button (the API decides again when it is pressed)."""
    if caller.scope is not None:
        roles = narrowed(roles, caller.scope.role)
    if not allowed(action, roles):
        return False
    return not (
        action is Action.DEPLOY and environment.protected and not allowed(Action.DEPLOY_PROTECTED, roles)
    )


def _desired_replicas(service: ServiceRow) -> str:
    if service.autoscaling is not None:
        return f"{service.autoscaling.min_replicas} to {service.autoscaling.max_replicas} (autoscaled)"
    if service.state == "paused":
        return "0 (paused)"
    return "—" if service.replicas is None else str(service.replicas)


def compare(
    service: ServiceRow,
    release: DeploymentRow | None,
    status: ObservedStatus | None,
    *,
    desired_generation: int,
) -> tuple[Comparison, ...]:
    """Desired next to observed, one row per field; the image and the replicas (a cron job: the
    schedule) rows are ``unknown`` here, the page's script fills them from the observed objects."""
    generation = Comparison(
        field="generation",
        desired=str(desired_generation),
        observed=str(status.generation) if status else "not reported",
        state=("in-sync" if status.generation >= desired_generation else "differs") if status else "unknown",
        key="generation",
    )
    expected_health = "paused" if service.state == "paused" else "healthy"
    health = Comparison(
        field="health",
        desired=expected_health,
        observed=f"{status.health}: {status.reason}" if status else "not reported",
        state=("in-sync" if status.health == expected_health else "differs") if status else "unknown",
        key="health",
    )
    image = Comparison(
        field="image",
        desired=release.image if release else "no release yet",
        observed="—",
        state="unknown",
        key="image",
    )
    return (generation, health, image, _scale(service))


def _scale(service: ServiceRow) -> Comparison:
    """A cron job's schedule (it has no replicas), any other service's replicas; the page's
    script fills the observed side from the workload's snapshot."""
    if service.type is ServiceType.CRON:
        zone = service.cron_time_zone or "UTC"
        suspended = " (suspended)" if service.state == "paused" else ""
        return Comparison(
            field="schedule",
            desired=f"{service.cron_schedule} ({zone}){suspended}",
            observed="—",
            state="unknown",
            key="schedule",
        )
    return Comparison(
        field="replicas", desired=_desired_replicas(service), observed="—", state="unknown", key="replicas"
    )
