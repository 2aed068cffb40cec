"""Ports: the protocols the core needs from the outside world (adapters implement them).

Starbase's persistence is split by role: each HTTP route and command depends only on the ports
it uses. ``agents`` (desired state, agent token, reports), ``clusters`` (operators' cluster
settings), ``tenancy`` (users, workspaces, projects, members, roles), ``services``
(environments, services, releases), ``vargroups``, ``dashboard`` (observed reads), ``audit``,
``readiness``, ``tokens`` (API tokens), ``templates`` (the template catalogue) and
``ratelimit``. Their records live in :mod:`starform_core.access` and :mod:`starform_core.records`.
Shuttle's ports are ``cluster`` and ``source``; the image pipeline's are ``registry`` and ``build``;
billing's (usage ledger, invoices, usage audit trail, payment provider) are in ``billing``.
"""

from starform_core.ports.agents import AgentStore, DesiredStateReader
from starform_core.ports.audit import AuditLog
from starform_core.ports.billing import InvoiceStore, PaymentProvider, UsageAuditTrail, UsageLedger
from starform_core.ports.cluster import ClusterPort
from starform_core.ports.clusters import ClusterStore
from starform_core.ports.dashboard import DashboardReads
from starform_core.ports.readiness import Readiness
from starform_core.ports.services import EnvironmentStore, ReleaseStore, ServiceStore
from starform_core.ports.source import AgentApi, DesiredStateSource, Fetched, NotModified, ReportSink
from starform_core.ports.templates import TemplateStore
from starform_core.ports.tenancy import TenancyStore, UserStore
from starform_core.ports.tokens import ApiTokenStore
from starform_core.ports.vargroups import VarGroupStore

__all__ = [
    "AgentApi",
    "AgentStore",
    "ApiTokenStore",
    "AuditLog",
    "ClusterPort",
    "ClusterStore",
    "DashboardReads",
    "DesiredStateReader",
    "DesiredStateSource",
    "EnvironmentStore",
    "Fetched",
    "InvoiceStore",
    "NotModified",
    "PaymentProvider",
    "Readiness",
    "ReleaseStore",
    "ReportSink",
    "ServiceStore",
    "TemplateStore",
    "TenancyStore",
    "UsageAuditTrail",
    "UsageLedger",
    "UserStore",
    "VarGroupStore",
]
