"""What the store contract suite runs against: every store implementation, under one type.

``STORE_IMPLEMENTATIONS`` names each implementation of Starbase's role ports; the ``any_store``
fixture (``conftest.py``) is parametrised over it, so every contract test runs against each.
The in-memory double was removed (issue 13): PostgreSQL is the only implementation, and a new
one joins the suite by adding its name here and its construction to ``any_store``.
"""

from __future__ import annotations

from typing import Protocol

from starform_core.ports import (
    AgentStore,
    ApiTokenStore,
    AuditLog,
    ClusterStore,
    DashboardReads,
    EnvironmentStore,
    Readiness,
    ReconcileStore,
    ReleaseStore,
    ServiceStore,
    TemplateStore,
    TenancyStore,
    VarGroupStore,
)

__all__ = ["STORE_IMPLEMENTATIONS", "StoreUnderTest"]

STORE_IMPLEMENTATIONS = ("postgres",)


class StoreUnderTest(
    AgentStore,
    ClusterStore,
    TenancyStore,
    EnvironmentStore,
    ServiceStore,
    ReleaseStore,
    VarGroupStore,
    DashboardReads,
    AuditLog,
    Readiness,
    ApiTokenStore,
    TemplateStore,
    ReconcileStore,
    Protocol,
):
    """Every Starbase role port at once (what a store implementation provides)."""
