"""Ports: the protocols the core needs from the outside world (adapters implement them)."""

from starform_core.ports.cluster import ClusterPort
from starform_core.ports.source import AgentApi, DesiredStateSource, Fetched, NotModified, ReportSink
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
    "AgentApi",
    "AuditEntry",
    "ClusterPort",
    "DesiredStateSource",
    "DesiredStateStore",
    "EventRecord",
    "EventsPage",
    "Fetched",
    "NewDeployment",
    "NotModified",
    "ObservedStatus",
    "ProjectRole",
    "ReportSink",
    "Roles",
    "Store",
    "UserRecord",
    "VarKeyInfo",
    "WorkspaceRole",
]
