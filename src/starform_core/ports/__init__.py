"""Ports: the protocols the core needs from the outside world (adapters implement them)."""

from starform_core.ports.billing import InvoiceStore, PaymentProvider, UsageAuditTrail, UsageLedger
from starform_core.ports.cluster import ClusterPort
from starform_core.ports.source import DesiredStateSource, Fetched, NotModified
from starform_core.ports.store import (
    Actor,
    AuditEntry,
    DesiredStateStore,
    EventRecord,
    EventsPage,
    NewDeployment,
    ObservedStatus,
    ProjectRole,
    Roles,
    Store,
    UserRecord,
    VarKeyInfo,
    WorkspaceRole,
)

__all__ = [
    "Actor",
    "AuditEntry",
    "ClusterPort",
    "DesiredStateSource",
    "DesiredStateStore",
    "EventRecord",
    "EventsPage",
    "Fetched",
    "InvoiceStore",
    "NewDeployment",
    "NotModified",
    "ObservedStatus",
    "PaymentProvider",
    "ProjectRole",
    "Roles",
    "Store",
    "UsageAuditTrail",
    "UsageLedger",
    "UserRecord",
    "VarKeyInfo",
    "WorkspaceRole",
]
