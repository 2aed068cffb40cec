"""The ports Starbase's HTTP API runs on, one per role, and the FastAPI dependencies that hand
each route only the ones it declares.

:func:`~starform_apps.starbase.app.create_app` takes a :class:`StarbasePorts` and keeps it on the
app; a route asks for a role by annotating a parameter with one of the ``*Dep`` aliases below
(``tenancy: TenancyDep``), so its signature says exactly which ports it touches.

Billing's roles: ``usage`` (running totals: ingestion, the usage estimate), ``invoices``,
``usage_audit`` (the audit trail of every snapshot), ``payments`` (the payment provider; absent
when none is configured, and then its routes answer 404) and ``billing_jobs`` (the job queue that
defers dunning retries; absent in tests without one).
"""

from __future__ import annotations

from typing import Annotated

import attrs
from fastapi import Depends, Request

from starform_apps.starbase.billing.scheduler import JobScheduler
from starform_apps.starbase.http_errors import HttpError
from starform_core.ports import (
    AgentStore,
    ApiTokenStore,
    ClusterStore,
    DashboardReads,
    EnvironmentStore,
    InvoiceStore,
    PaymentProvider,
    Readiness,
    ReleaseStore,
    ServiceStore,
    TemplateStore,
    TenancyStore,
    UsageAuditTrail,
    UsageLedger,
    VarGroupStore,
)

__all__ = [
    "AgentsDep",
    "BillingJobsDep",
    "ClustersDep",
    "DashboardDep",
    "EnvironmentsDep",
    "InvoicesDep",
    "PaymentsDep",
    "ReadinessDep",
    "ReleasesDep",
    "ServicesDep",
    "StarbasePorts",
    "TemplatesDep",
    "TenancyDep",
    "TokensDep",
    "UsageAuditDep",
    "UsageDep",
    "VarGroupsDep",
    "agents_port",
    "billing_jobs_port",
    "clusters_port",
    "dashboard_port",
    "environments_port",
    "invoices_port",
    "payments_port",
    "ports_of",
    "readiness_port",
    "releases_port",
    "services_port",
    "templates_port",
    "tenancy_port",
    "tokens_port",
    "usage_audit_port",
    "usage_port",
    "var_groups_port",
]


@attrs.frozen
class StarbasePorts:
    """Everything the HTTP API needs from the outside world, by role.

    One object may fill several roles (the PostgreSQL store fills Starbase's, the PostgreSQL
    billing store ``usage`` and ``invoices``); a route still sees only the role it asked for.
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
    usage: UsageLedger
    invoices: InvoiceStore
    usage_audit: UsageAuditTrail
    payments: PaymentProvider | None = None
    billing_jobs: JobScheduler | None = None


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


def usage_port(request: Request) -> UsageLedger:
    """The usage role: running totals per tenant and month, builds, plan periods."""
    return ports_of(request).usage


def invoices_port(request: Request) -> InvoiceStore:
    """The invoices role: invoices, credit notes, provider events."""
    return ports_of(request).invoices


def usage_audit_port(request: Request) -> UsageAuditTrail:
    """The usage audit role: the append-only record of every snapshot."""
    return ports_of(request).usage_audit


def payments_port(request: Request) -> PaymentProvider:
    """The payments role: the payment provider (404 when this Starbase has none configured)."""
    provider = ports_of(request).payments
    if provider is None:
        raise HttpError(404, "no payment provider is configured on this Starbase (STRIPE_API_KEY)")
    return provider


def billing_jobs_port(request: Request) -> JobScheduler | None:
    """The billing jobs role: the queue that defers dunning retries (``None``: no queue)."""
    return ports_of(request).billing_jobs


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
UsageDep = Annotated[UsageLedger, Depends(usage_port)]
InvoicesDep = Annotated[InvoiceStore, Depends(invoices_port)]
UsageAuditDep = Annotated[UsageAuditTrail, Depends(usage_audit_port)]
PaymentsDep = Annotated[PaymentProvider, Depends(payments_port)]
BillingJobsDep = Annotated[JobScheduler | None, Depends(billing_jobs_port)]
