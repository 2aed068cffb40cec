"""The ports Starbase's HTTP API runs on, one per role, and the FastAPI dependencies that hand
each route only the ones it declares.

:func:`~starform_apps.starbase.app.create_app` takes a :class:`StarbasePorts` and keeps it on the
app; a route asks for a role by annotating a parameter with one of the ``*Dep`` aliases below
(``tenancy: TenancyDep``), so its signature says exactly which ports it touches.
"""

from __future__ import annotations

from typing import Annotated

import attrs
from fastapi import Depends, Request

from starform_core.ports import (
    AdoptionStore,
    AgentStore,
    ApiTokenStore,
    ClusterStore,
    DashboardReads,
    EnvironmentStore,
    Readiness,
    ReleaseStore,
    ServiceStore,
    TemplateStore,
    TenancyStore,
    VarGroupStore,
)

__all__ = [
    "AdoptionsDep",
    "AgentsDep",
    "ClustersDep",
    "DashboardDep",
    "EnvironmentsDep",
    "ReadinessDep",
    "ReleasesDep",
    "ServicesDep",
    "StarbasePorts",
    "TemplatesDep",
    "TenancyDep",
    "TokensDep",
    "VarGroupsDep",
    "adoptions_port",
    "agents_port",
    "clusters_port",
    "dashboard_port",
    "environments_port",
    "ports_of",
    "readiness_port",
    "releases_port",
    "services_port",
    "templates_port",
    "tenancy_port",
    "tokens_port",
    "var_groups_port",
]


@attrs.frozen
class StarbasePorts:
    """Everything the HTTP API needs from the outside world, by role.

    One object may fill several roles (the PostgreSQL store fills all but the rate limiter); a
    route still sees only the role it asked for.
    """

    agents: AgentStore
    clusters: ClusterStore
    tenancy: TenancyStore
    environments: EnvironmentStore
    services: ServiceStore
    releases: ReleaseStore
    var_groups: VarGroupStore
    dashboard: DashboardReads
    readiness: Readiness
    tokens: ApiTokenStore
    templates: TemplateStore
    adoptions: AdoptionStore


def ports_of(request: Request) -> StarbasePorts:
    """The app's ports (set by ``create_app``)."""
    ports: StarbasePorts = request.app.state.ports
    return ports


def agents_port(request: Request) -> AgentStore:
    """The agents role: desired state, the cluster's token, status and event reports."""
    return ports_of(request).agents


def clusters_port(request: Request) -> ClusterStore:
    """The clusters role: registration and settings."""
    return ports_of(request).clusters


def tenancy_port(request: Request) -> TenancyStore:
    """The tenancy role: users, workspaces, projects, members and roles."""
    return ports_of(request).tenancy


def environments_port(request: Request) -> EnvironmentStore:
    """The environments role."""
    return ports_of(request).environments


def services_port(request: Request) -> ServiceStore:
    """The services role: services, volumes, hostnames."""
    return ports_of(request).services


def releases_port(request: Request) -> ReleaseStore:
    """The releases role: deployments."""
    return ports_of(request).releases


def var_groups_port(request: Request) -> VarGroupStore:
    """The var groups role."""
    return ports_of(request).var_groups


def dashboard_port(request: Request) -> DashboardReads:
    """The dashboard role: applied generations, observed status, events."""
    return ports_of(request).dashboard


def readiness_port(request: Request) -> Readiness:
    """The readiness role: does the system of record answer."""
    return ports_of(request).readiness


def tokens_port(request: Request) -> ApiTokenStore:
    """The API tokens role."""
    return ports_of(request).tokens


def templates_port(request: Request) -> TemplateStore:
    """The templates role: the template catalogue and services made from it."""
    return ports_of(request).templates


AgentsDep = Annotated[AgentStore, Depends(agents_port)]
ClustersDep = Annotated[ClusterStore, Depends(clusters_port)]
TenancyDep = Annotated[TenancyStore, Depends(tenancy_port)]
EnvironmentsDep = Annotated[EnvironmentStore, Depends(environments_port)]
ServicesDep = Annotated[ServiceStore, Depends(services_port)]
ReleasesDep = Annotated[ReleaseStore, Depends(releases_port)]
VarGroupsDep = Annotated[VarGroupStore, Depends(var_groups_port)]
DashboardDep = Annotated[DashboardReads, Depends(dashboard_port)]
ReadinessDep = Annotated[Readiness, Depends(readiness_port)]
TokensDep = Annotated[ApiTokenStore, Depends(tokens_port)]
TemplatesDep = Annotated[TemplateStore, Depends(templates_port)]


def adoptions_port(request: Request) -> AdoptionStore:
    """The adoptions and observed objects port."""
    return ports_of(request).adoptions


AdoptionsDep = Annotated[AdoptionStore, Depends(adoptions_port)]
